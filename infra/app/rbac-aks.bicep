// The app's roles on one AKS cluster, deployed into the cluster's own resource group (and subscription).
//
// - Azure Kubernetes Service Cluster User Role on the cluster: read the cluster (its Entra ID and local-account
//   settings, FQDN) and list user credentials, from which the app takes only the server and CA.
// - Clusters with Azure RBAC for Kubernetes authorization: a custom role with exactly the data actions the app
//   uses (no Secrets, ConfigMaps, exec or pod creation, unlike the built-in RBAC Writer) on each allowed
//   namespace, never on the cluster, unless the allow-list is "*". Clusters with Kubernetes RBAC get the same
//   rights from infra/kubernetes/rbac.yaml instead.
//
// Plain parameter types on purpose: this module's template then keeps the classic language version, in which
// the namespace pseudo-resources below are used only to build a scope and are never read by ARM.

@description('Name of the AKS cluster, in this module\'s resource group.')
param clusterName string

@description('Namespaces the app may use on this cluster; "*" means all of them.')
param namespaces array

@description('true when the cluster uses Azure RBAC for Kubernetes authorization.')
param azureRbac bool

@description('Object (principal) id of the app\'s user-assigned identity.')
param principalId string

var clusterUserRole = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f' // Azure Kubernetes Service Cluster User Role

// GATEWAY_PERMISSIONS of src/clients/kubeAccess.ts as Azure RBAC data actions (Kubernetes get/list/watch are
// read, create/update/patch are write, delete is delete); test/infra/infra.test.ts holds the two together. A
// feature that calls a new verb adds its data action here in the same change.
// A subresource has no data action of its own: the AKS authorizer (guard's getResourceAndAction) checks every
// pod subresource but exec as the pod's own action, so reading pod logs (pods/log get) is pods/read, and
// Microsoft.ContainerService publishes no pods/log action (ARM refuses a custom role that names one).
var runnerDataActions = [
  'Microsoft.ContainerService/managedClusters/batch/jobs/read'
  'Microsoft.ContainerService/managedClusters/batch/jobs/write'
  'Microsoft.ContainerService/managedClusters/batch/jobs/delete'
  'Microsoft.ContainerService/managedClusters/batch/cronjobs/read'
  'Microsoft.ContainerService/managedClusters/batch/cronjobs/write'
  'Microsoft.ContainerService/managedClusters/batch/cronjobs/delete'
  'Microsoft.ContainerService/managedClusters/apps/deployments/read'
  'Microsoft.ContainerService/managedClusters/pods/read'
  'Microsoft.ContainerService/managedClusters/events/read'
  'Microsoft.ContainerService/managedClusters/events/write'
]
// One definition per cluster, so two clusters in one resource group never race to write the same definition.
var runnerRole = guid(cluster.id, 'aks-job-runner Kubernetes runner')

var allNamespaces = contains(namespaces, '*')

resource cluster 'Microsoft.ContainerService/managedClusters@2024-09-01' existing = {
  name: clusterName
}

// `<clusterId>/namespaces/<ns>` is the scope Azure RBAC for Kubernetes authorization uses for one namespace. It is
// not a resource ARM serves, so Bicep has no type for it; it only ever appears as a role-assignment scope.
#disable-next-line BCP081
resource allowedNamespace 'Microsoft.ContainerService/managedClusters/namespaces@2022-01-02-preview' existing = [for ns in namespaces: {
  parent: cluster
  name: ns
}]

// Custom role names are unique in the tenant: the cluster's id makes this one so.
resource runnerRoleDefinition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (azureRbac) {
  name: runnerRole
  properties: {
    roleName: 'aks-job-runner on ${clusterName} (${uniqueString(cluster.id)})'
    description: 'What aks-job-runner does in a namespace: read, create, change and delete Jobs and CronJobs; read Deployments, pods (and so their logs) and events; write events. No Secrets, no other workloads, no exec.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: runnerDataActions
        notDataActions: []
      }
    ]
  }
}

resource clusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, principalId, clusterUserRole)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', clusterUserRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource namespaceRunner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (ns, i) in namespaces: if (azureRbac && !allNamespaces) {
  name: guid(allowedNamespace[i].id, principalId, runnerRole)
  scope: allowedNamespace[i]
  dependsOn: [
    runnerRoleDefinition
  ]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', runnerRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// "*" allows every namespace, so the role has to cover every namespace: the cluster scope, kube-system included
// as far as Azure is concerned (the app itself refuses system namespaces under "*", see src/config.ts).
// Meant for development clusters only.
resource clusterRunner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (azureRbac && allNamespaces) {
  name: guid(cluster.id, principalId, runnerRole)
  scope: cluster
  dependsOn: [
    runnerRoleDefinition
  ]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', runnerRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
