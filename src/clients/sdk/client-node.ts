// What the app uses of @kubernetes/client-node, for src/clients/lazy.ts. Named re-exports, so that the bundle's
// file for it holds these and what they need, not every API group of the package (its namespace would keep all).
export { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, Log, Observable, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
