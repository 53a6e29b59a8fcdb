{{/* Name prefix of every object: nameOverride or the release name (≤ 40 chars, suffixes fit in 63). */}}
{{- define "pd-router.fullname" -}}
{{- default .Release.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "pd-router.poolName" -}}
{{- default (include "pd-router.fullname" .) .Values.pool.name -}}
{{- end -}}

{{- define "pd-router.eppName" -}}
{{- include "pd-router.fullname" . }}-epp
{{- end -}}

{{- define "pd-router.modelServerSA" -}}
{{- include "pd-router.fullname" . }}-model-server
{{- end -}}

{{- define "pd-router.servedName" -}}
{{- default .Values.model.name .Values.model.servedName -}}
{{- end -}}

{{- define "pd-router.eppImage" -}}
{{- .Values.epp.image.repository }}:{{ default .Chart.AppVersion .Values.epp.image.tag -}}
{{- end -}}

{{- define "pd-router.sidecarImage" -}}
{{- .Values.sidecar.image.repository }}:{{ default .Chart.AppVersion .Values.sidecar.image.tag -}}
{{- end -}}

{{- define "pd-router.poolVersion" -}}
{{- if eq .Values.pool.apiGroup "inference.networking.k8s.io" }}v1{{ else }}v1alpha2{{ end -}}
{{- end -}}

{{/* Leader election: forced on with more than one EPP replica. */}}
{{- define "pd-router.leaderElection" -}}
{{- if or .Values.epp.leaderElection (gt (int .Values.epp.replicas) 1) }}true{{ end -}}
{{- end -}}

{{- define "pd-router.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pd-router
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The InferencePool selector: every model-server pod of this release. */}}
{{- define "pd-router.poolSelector" -}}
llm-d.ai/inference-serving: "true"
pd-router.llm-d.ai/pool: {{ include "pd-router.poolName" . }}
{{- end -}}

{{/* vLLM --kv-transfer-config for the chosen connector. */}}
{{- define "pd-router.kvTransferConfig" -}}
{{- if eq .Values.vllm.kvConnector "nixlv2" -}}
{"kv_connector":"NixlConnector","kv_role":"kv_both"}
{{- else if eq .Values.vllm.kvConnector "shared-storage" -}}
{"kv_connector":"SharedStorageConnector","kv_role":"kv_both","kv_connector_extra_config":{"shared_storage_path":"/kv-cache"} }
{{- end -}}
{{- end -}}

{{/*
The model-server container, shared by the prefill and decode Deployments.
Call with (dict "root" $ "role" "prefill"|"decode" "port" <int>).
*/}}
{{- define "pd-router.modelServerContainer" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $roleValues := index $v.vllm .role -}}
- name: vllm
{{- if $v.simulator.enabled }}
  image: {{ include "pd-router.eppImage" $root }}
  imagePullPolicy: {{ $v.epp.image.pullPolicy }}
  command: ["node", "/app/dist/bin/pd-router.js", "sim"]
  args:
    - {{ printf "--model=%s" $v.model.name | quote }}
    - {{ printf "--served-model-name=%s" (include "pd-router.servedName" $root) | quote }}
    - --port={{ .port }}
    - --role={{ .role }}
  {{- range $v.simulator.extraArgs }}
    - {{ . | quote }}
  {{- end }}
{{- else }}
  image: {{ $v.vllm.image.repository }}:{{ $v.vllm.image.tag }}
  imagePullPolicy: {{ $v.vllm.image.pullPolicy }}
  args:
    - {{ $v.model.name | quote }}
    - {{ printf "--served-model-name=%s" (include "pd-router.servedName" $root) | quote }}
    - --port={{ .port }}
  {{- with include "pd-router.kvTransferConfig" $root }}
    - {{ printf "--kv-transfer-config=%s" . | squote }}
  {{- end }}
  {{- if $v.kvEvents.enabled }}
    {{- $endpoint := printf "tcp://%s.%s.svc:%v" (include "pd-router.eppName" $root) $root.Release.Namespace $v.kvEvents.port }}
    {{- $topic := printf "kv@$(POD_IP):%v@%s" $v.pool.targetPort (include "pd-router.servedName" $root) }}
    - {{ printf "--kv-events-config={\"enable_kv_cache_events\":true,\"publisher\":\"zmq\",\"endpoint\":\"%s\",\"topic\":\"%s\"}" $endpoint $topic | squote }}
  {{- end }}
  {{- if and $v.tracing.enabled $v.tracing.vllm }}
    - --otlp-traces-endpoint={{ $v.tracing.otlpEndpoint }}
  {{- end }}
  {{- range (concat $v.vllm.extraArgs $roleValues.extraArgs) }}
    - {{ . | quote }}
  {{- end }}
{{- end }}
  env:
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    - name: VLLM_NIXL_SIDE_CHANNEL_HOST
      value: $(POD_IP)
    - name: OTEL_SERVICE_NAME
      value: vllm-{{ .role }}
  {{- if $v.model.hfTokenSecret }}
    - name: HF_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ $v.model.hfTokenSecret }}
          key: HF_TOKEN
  {{- end }}
  {{- with $v.vllm.extraEnv }}
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - {name: vllm, containerPort: {{ .port }}, protocol: TCP}
  {{- if eq $v.vllm.kvConnector "nixlv2" }}
    - {name: nixl, containerPort: 5600, protocol: TCP}
  {{- end }}
  startupProbe:
    httpGet:
      path: /health
      port: {{ .port }}
    periodSeconds: 10
    failureThreshold: {{ div $v.vllm.startupTimeoutSeconds 10 }}
  readinessProbe:
    httpGet:
      path: /health
      port: {{ .port }}
    periodSeconds: 5
  livenessProbe:
    httpGet:
      path: /health
      port: {{ .port }}
    periodSeconds: 10
    failureThreshold: 3
  resources:
  {{- if $v.simulator.enabled }}
    {{- toYaml $v.simulator.resources | nindent 4 }}
  {{- else }}
    {{- toYaml $roleValues.resources | nindent 4 }}
  volumeMounts:
    - {name: shm, mountPath: /dev/shm}
    {{- with $v.vllm.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* Pod volumes of the model servers (list items; empty with the simulator). */}}
{{- define "pd-router.modelServerVolumes" -}}
{{- if not .Values.simulator.enabled -}}
- name: shm
  emptyDir: {medium: Memory, sizeLimit: 8Gi}
{{- with .Values.vllm.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
{{- end -}}
