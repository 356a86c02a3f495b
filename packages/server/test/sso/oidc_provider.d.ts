// oidc-provider ships no types (and @types/oidc-provider lags its major versions): the test upstream
// uses a handful of its calls, typed loosely here.
declare module 'oidc-provider' {
  // biome-ignore lint/suspicious/noExplicitAny: an untyped third-party module, used only by the test upstream.
  type Loose = any;
  export default class Provider {
    constructor(issuer: string, configuration: Loose);
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
    interactionDetails(req: Loose, res: Loose): Promise<Loose>;
    interactionFinished(req: Loose, res: Loose, result: Loose, options?: Loose): Promise<void>;
    Grant: Loose;
  }
}
