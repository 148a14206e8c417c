export const options = { iterations: 1, thresholds: { hub_rss_bytes: ['value>0'] } };

export default function () {}
