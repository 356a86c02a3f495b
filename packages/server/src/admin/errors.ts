/** A request an administrator made that cannot be carried out as asked. The message is for people. */
export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    message: string,
    readonly code: 'invalid_input' | 'not_found' | 'conflict',
  ) {
    super(message);
  }
}
