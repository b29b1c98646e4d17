{{/* Chart name. */}}
{{- define "elb-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "elb-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "elb-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "elb-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elb-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "elb-operator.labels" -}}
helm.sh/chart: {{ include "elb-operator.chart" . }}
{{ include "elb-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "elb-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "elb-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "elb-operator.leaseName" -}}
{{- default (include "elb-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- /*
The cluster name of the ownership tags: clusterName, else one derived from the kube-system
namespace UID, which is unique per cluster and never changes. Without either, refuse:
a name shared by two clusters makes each delete the other's ELBs.
*/}}
{{- define "elb-operator.clusterName" -}}
{{- if .Values.clusterName }}
{{- .Values.clusterName }}
{{- else }}
{{- $ns := lookup "v1" "Namespace" "" "kube-system" }}
{{- if and $ns $ns.metadata $ns.metadata.uid }}
{{- printf "k8s-%s" $ns.metadata.uid }}
{{- else }}
{{- fail "clusterName is required: set --set clusterName=<a name unique among the clusters of the AWS account> (it could not be derived: the kube-system namespace cannot be read here, as with helm template)" }}
{{- end }}
{{- end }}
{{- end }}
