// A local module imported relatively; it opens a file relative to itself.
export const greeting = open('../data.txt').trim();

export function double(x) {
  return 2 * x;
}
