// The operations workbook: what the app did, over the time range picked at its top (24 hours by default). Each
// chart is a query of infra/queries, read from the Log Analytics workspace behind Application Insights.

param logAnalyticsName string
param location string = resourceGroup().location
param tags object = {}

@description('The workbook\'s name in the portal.')
param displayName string

@description('Seed of the workbook\'s resource name (a GUID), so a second environment gets a workbook of its own.')
param nameSeed string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

var charts = [
  {
    name: 'runs-per-hour'
    title: 'Runs per hour, by verdict'
    query: loadTextContent('../queries/runs-per-hour.kql')
    visualization: 'barchart'
  }
  {
    name: 'run-duration'
    title: 'Run duration, p50 and p95 (seconds)'
    query: loadTextContent('../queries/run-duration.kql')
    visualization: 'linechart'
  }
  {
    name: 'top-failing-sources'
    title: 'Top failing sources'
    query: loadTextContent('../queries/top-failing-sources.kql')
    visualization: 'table'
  }
  {
    name: 'scheduler-lateness'
    title: 'Scheduler lateness: fire time minus due time (seconds)'
    query: loadTextContent('../queries/scheduler-lateness.kql')
    visualization: 'linechart'
  }
  {
    name: 'throttling'
    title: 'Kubernetes API requests and throttling (429), per cluster'
    query: loadTextContent('../queries/throttling.kql')
    visualization: 'barchart'
  }
]

var timeRange = {
  type: 9
  content: {
    version: 'KqlParameterItem/1.0'
    parameters: [
      {
        id: 'time-range'
        version: 'KqlParameterItem/1.0'
        name: 'TimeRange'
        label: 'Time range'
        type: 4
        isRequired: true
        value: {
          durationMs: 86400000
        }
        typeSettings: {
          selectableValues: [
            { durationMs: 3600000 }
            { durationMs: 14400000 }
            { durationMs: 86400000 }
            { durationMs: 259200000 }
            { durationMs: 604800000 }
          ]
        }
      }
    ]
    style: 'pills'
    queryType: 0
    resourceType: 'microsoft.operationalinsights/workspaces'
  }
  name: 'parameters'
}

var intro = {
  type: 1
  content: {
    json: '## aks-job-runner\nRuns, their duration and failures, the scheduler\'s lateness and the Kubernetes API\'s throttling. The queries are in the repository\'s infra/queries; docs/operations.md says what each shows.'
  }
  name: 'intro'
}

var workbook = {
  version: 'Notebook/1.0'
  items: concat([intro, timeRange], map(charts, c => {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      query: c.query
      size: 0
      title: c.title
      timeContextFromParameter: 'TimeRange'
      queryType: 0
      resourceType: 'microsoft.operationalinsights/workspaces'
      visualization: c.visualization
    }
    customWidth: '50'
    name: c.name
  }))
  fallbackResourceIds: [
    workspace.id
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource operationsWorkbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, nameSeed, 'operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: workspace.id
    serializedData: string(workbook)
  }
}

output workbookId string = operationsWorkbook.id
