/** `n` and the noun that goes with it: `1 record`, `2 records` (`many` for irregular plurals). */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
