// The app's alerts: log search alert rules over the Log Analytics workspace behind Application Insights (the
// workspace's table names, AppTraces and AppMetrics, as infra/queries writes them), each sending to one action
// group. Every query is a file of infra/queries, parsed in CI (test/infra/queries.test.ts); a parameter of a rule
// replaces the query's `let` line that holds its default, so the file stays a query that parses as it is.

param logAnalyticsName string
param location string = resourceGroup().location
param tags object = {}

@description('Name of the action group, and the short name (at most 12 characters) its e-mails and texts show.')
param actionGroupName string
@maxLength(12)
param actionGroupShortName string

@description('E-mail addresses the alerts go to, comma-separated. Empty: the alerts fire in the portal only.')
param alertEmails string

@description('Alert on failed runs (opt-in: a failed run is often the workload\'s business, not the operator\'s).')
param alertOnFailedRuns bool

@description('Sources the failed-run alert watches, comma-separated "<namespace>/<name>"; empty: every source.')
param failedRunAlertSources string

@description('Minutes without a scheduler tick before the "scheduler stopped" alert fires (5 to 55).')
@minValue(5)
@maxValue(55)
param schedulerStoppedMinutes int

@description('Archive failures, or push deliveries dead-lettered, within an hour that fire the "failures piling up" alert.')
@minValue(1)
param failureAlertThreshold int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

var emails = filter(map(split(alertEmails, ','), e => trim(e)), e => !empty(e))
var sources = filter(map(split(failedRunAlertSources, ','), s => trim(s)), s => !empty(s))

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: map(range(0, length(emails)), i => {
      name: 'email-${i}'
      emailAddress: emails[i]
      useCommonAlertSchema: true
    })
  }
}

var runFailedQuery = replace(loadTextContent('../queries/alert-run-failed.kql'), 'let sources = dynamic([]);', 'let sources = dynamic(${string(sources)});')
var missedDueTimeQuery = loadTextContent('../queries/alert-missed-due-time.kql')
var schedulerStoppedQuery = replace(loadTextContent('../queries/alert-scheduler-stopped.kql'), 'let minutes = 10;', 'let minutes = ${schedulerStoppedMinutes};')
var failuresQuery = replace(loadTextContent('../queries/alert-archive-delivery-failures.kql'), 'let threshold = 3;', 'let threshold = ${failureAlertThreshold};')

// Each rule: one row of the query is one alert (split by the dimensions), severity 0 (critical) to 4 (verbose).
var rules = [
  {
    name: 'run-failed'
    displayName: 'aks-job-runner: a run failed'
    description: 'A run of a watched source ended Failed (alert-run-failed.kql), one alert per source.'
    enabled: alertOnFailedRuns
    severity: 2
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    overrideQueryTimeRange: ''
    query: runFailedQuery
    dimensions: ['cluster', 'namespace', 'source']
    autoMitigate: false
  }
  {
    name: 'missed-due-time'
    displayName: 'aks-job-runner: a handed-over CronJob missed a due time'
    description: 'A CronJob handed to the app\'s scheduler had no run by its startingDeadlineSeconds (or 5 minutes after its due time), also when the scheduler itself stopped (alert-missed-due-time.kql).'
    enabled: true
    severity: 1
    // The query's `period` is this frequency: each missed due time is reported by one evaluation. It reads two
    // days back for the expectations the scheduler recorded before it stopped.
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    overrideQueryTimeRange: 'P2D'
    query: missedDueTimeQuery
    dimensions: ['cluster', 'namespace', 'cronJob']
    autoMitigate: false
  }
  {
    name: 'scheduler-stopped'
    displayName: 'aks-job-runner: the scheduler stopped ticking'
    description: 'No scheduler tick heartbeat (ajr.scheduler.ticks) for ${schedulerStoppedMinutes} minutes: the app\'s timer is not running (app stopped, SCHEDULER_ENABLED=false, the host failing).'
    enabled: true
    severity: 1
    evaluationFrequency: 'PT5M'
    windowSize: 'PT1H'
    overrideQueryTimeRange: ''
    query: schedulerStoppedQuery
    dimensions: []
    autoMitigate: true
  }
  {
    name: 'failures-piling-up'
    displayName: 'aks-job-runner: archive or delivery failures piling up'
    description: 'At least ${failureAlertThreshold} logs archives failed (or were left partial), or push deliveries were dead-lettered, within an hour (alert-archive-delivery-failures.kql).'
    enabled: true
    severity: 2
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    overrideQueryTimeRange: ''
    query: failuresQuery
    dimensions: ['what']
    autoMitigate: true
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${actionGroupName}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    enabled: rule.enabled
    severity: rule.severity
    evaluationFrequency: rule.evaluationFrequency
    windowSize: rule.windowSize
    overrideQueryTimeRange: empty(rule.overrideQueryTimeRange) ? null : rule.overrideQueryTimeRange
    scopes: [
      workspace.id
    ]
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: map(rule.dimensions, d => {
            name: d
            operator: 'Include'
            values: ['*']
          })
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: rule.autoMitigate
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
output alertRuleNames array = [for (rule, i) in rules: alertRules[i].name]
