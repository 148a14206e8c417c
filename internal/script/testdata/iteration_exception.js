// Iterations throw; k6 logs the exception with its stack and carries on.
export const options = { iterations: 2 };

function inner() {
  throw new TypeError('bad thing in iteration ' + __ITER);
}

export default function () {
  inner();
}
