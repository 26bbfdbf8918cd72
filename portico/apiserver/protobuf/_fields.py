"""Protobuf field numbers of the Kubernetes messages, keyed by definition name.

Kubernetes' `generated.proto` files give every Go struct field a number; the
JSON schemas (`portico.apiserver.schema`) already know each field's type, so
this table only maps numbers to JSON names. One entry is a string of
`number name` pairs, where a name may carry a mark:

- `name*`  the Go field is a pointer: keep it even when it holds a zero value
  (`replicas: 0`). Unmarked scalar fields are Go values tagged `omitempty`,
  which gogo-protobuf always writes, so a zero there means "unset".
- `@Type`  an embedded struct inlined into the parent's JSON (`json:",inline"`),
  e.g. `Volume.volumeSource` or `ConfigMapKeySelector.localObjectReference`.

Definition names are written with short prefixes (`c.` core/v1, `m.` meta/v1,
`a.` apps/v1, `n.` networking/v1, `h.` autoscaling/v2, `h1.` autoscaling/v1, `p.` policy/v1)
and expanded
by `message_fields()`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

_PREFIXES = {
    "c.": "io.k8s.api.core.v1.",
    "m.": "io.k8s.apimachinery.pkg.apis.meta.v1.",
    "a.": "io.k8s.api.apps.v1.",
    "n.": "io.k8s.api.networking.v1.",
    "b.": "io.k8s.api.batch.v1.",
    "h.": "io.k8s.api.autoscaling.v2.",
    "h1.": "io.k8s.api.autoscaling.v1.",
    "p.": "io.k8s.api.policy.v1.",
    "r.": "io.k8s.api.rbac.v1.",
    "authn.": "io.k8s.api.authentication.v1.",
    "authz.": "io.k8s.api.authorization.v1.",
}

_CONTAINER = (
    "1 name 2 image 3 command 4 args 5 workingDir 6 ports 19 envFrom 7 env 8 resources"
    " 23 resizePolicy 24 restartPolicy* 25 restartPolicyRules 9 volumeMounts"
    " 21 volumeDevices 10 livenessProbe 11 readinessProbe 22 startupProbe 12 lifecycle"
    " 13 terminationMessagePath 20 terminationMessagePolicy 14 imagePullPolicy"
    " 15 securityContext 16 stdin 17 stdinOnce 18 tty"
)
_OBJECT = "1 metadata 2 spec 3 status"

_TABLE: dict[str, str] = {
    # meta/v1
    "m.ObjectMeta": (
        "1 name 2 generateName 3 namespace 4 selfLink 5 uid 6 resourceVersion 7 generation"
        " 8 creationTimestamp 9 deletionTimestamp 10 deletionGracePeriodSeconds* 11 labels"
        " 12 annotations 13 ownerReferences 14 finalizers 17 managedFields"
    ),
    "m.OwnerReference": ("5 apiVersion 1 kind 3 name 4 uid 6 controller* 7 blockOwnerDeletion*"),
    "m.ManagedFieldsEntry": (
        "1 manager 2 operation 3 apiVersion 4 time 6 fieldsType 7 fieldsV1 8 subresource"
    ),
    "m.LabelSelector": "1 matchLabels 2 matchExpressions",
    "m.LabelSelectorRequirement": "1 key 2 operator 3 values",
    "m.Condition": ("1 type 2 status 3 observedGeneration 4 lastTransitionTime 5 reason 6 message"),
    # rbac/v1 (kubectl create role|clusterrole|rolebinding|clusterrolebinding)
    "r.Role": "1 metadata 2 rules",
    "r.ClusterRole": "1 metadata 2 rules 3 aggregationRule",
    "r.PolicyRule": "1 verbs 2 apiGroups 3 resources 4 resourceNames 5 nonResourceURLs",
    "r.AggregationRule": "1 clusterRoleSelectors",
    "r.RoleBinding": "1 metadata 2 subjects 3 roleRef",
    "r.ClusterRoleBinding": "1 metadata 2 subjects 3 roleRef",
    "r.RoleRef": "1 apiGroup 2 kind 3 name",
    "r.Subject": "1 kind 2 apiGroup 3 name 4 namespace",
    # authentication/v1, authorization/v1 (kubectl create token, auth can-i, auth whoami)
    "authn.TokenRequest": _OBJECT,
    "authn.TokenRequestSpec": "1 audiences 4 expirationSeconds* 3 boundObjectRef",
    "authn.BoundObjectReference": "1 kind 2 apiVersion 3 name 4 uid",
    "authn.SelfSubjectReview": "1 metadata 2 status",
    "authn.TokenReview": _OBJECT,
    "authn.TokenReviewSpec": "1 token 2 audiences",
    "authz.SelfSubjectAccessReview": _OBJECT,
    "authz.SelfSubjectAccessReviewSpec": "1 resourceAttributes 2 nonResourceAttributes",
    "authz.SelfSubjectRulesReview": _OBJECT,
    "authz.SelfSubjectRulesReviewSpec": "1 namespace",
    "authz.SubjectAccessReview": _OBJECT,
    "authz.LocalSubjectAccessReview": _OBJECT,
    "authz.SubjectAccessReviewSpec": (
        "1 resourceAttributes 2 nonResourceAttributes 3 user 4 groups 6 uid"),
    "authz.ResourceAttributes": (
        "1 namespace 2 verb 3 group 4 version 5 resource 6 subresource 7 name"),
    "authz.NonResourceAttributes": "1 path 2 verb",
    # apps/v1
    "a.Deployment": _OBJECT,
    "a.DeploymentSpec": (
        "1 replicas* 2 selector 3 template 4 strategy 5 minReadySeconds"
        " 6 revisionHistoryLimit* 7 paused 9 progressDeadlineSeconds* 10 podReplacementPolicy*"
    ),
    "a.DeploymentStrategy": "1 type 2 rollingUpdate",
    "a.RollingUpdateDeployment": "1 maxUnavailable 2 maxSurge",
    "a.DeploymentStatus": (
        "1 observedGeneration 2 replicas 3 updatedReplicas 7 readyReplicas"
        " 4 availableReplicas 5 unavailableReplicas 9 terminatingReplicas* 6 conditions"
        " 8 collisionCount*"
    ),
    "a.DeploymentCondition": (
        "1 type 2 status 6 lastUpdateTime 7 lastTransitionTime 4 reason 5 message"
    ),
    # batch/v1 (kubectl create job|cronjob)
    "b.Job": _OBJECT,
    "b.JobSpec": (
        "1 parallelism* 2 completions* 3 activeDeadlineSeconds* 11 podFailurePolicy"
        " 16 successPolicy 7 backoffLimit* 12 backoffLimitPerIndex* 13 maxFailedIndexes*"
        " 4 selector 5 manualSelector* 6 template 8 ttlSecondsAfterFinished*"
        " 9 completionMode* 10 suspend* 14 podReplacementPolicy* 15 managedBy*"
    ),
    "b.JobStatus": (
        "1 conditions 2 startTime 3 completionTime 4 active 5 succeeded 6 failed"
        " 11 terminating* 7 completedIndexes 10 failedIndexes* 8 uncountedTerminatedPods 9 ready*"
    ),
    "b.CronJob": _OBJECT,
    "b.CronJobSpec": (
        "1 schedule 8 timeZone* 2 startingDeadlineSeconds* 3 concurrencyPolicy 4 suspend*"
        " 5 jobTemplate 6 successfulJobsHistoryLimit* 7 failedJobsHistoryLimit*"
    ),
    "b.CronJobStatus": "1 active 4 lastScheduleTime 5 lastSuccessfulTime",
    "b.JobTemplateSpec": "1 metadata 2 spec",
    # networking/v1
    # autoscaling/v2 (`kubectl autoscale`)
    "h.HorizontalPodAutoscaler": _OBJECT,
    "h.HorizontalPodAutoscalerSpec": (
        "1 scaleTargetRef 2 minReplicas* 3 maxReplicas 4 metrics 5 behavior"),
    "h.CrossVersionObjectReference": "1 kind 2 name 3 apiVersion",
    "h.MetricSpec": "1 type 2 object 3 pods 4 resource 7 containerResource 5 external",
    "h.ResourceMetricSource": "1 name 2 target",
    "h.ContainerResourceMetricSource": "1 name 2 target 3 container",
    "h.MetricTarget": "1 type 2 value* 3 averageValue* 4 averageUtilization*",
    "h.HorizontalPodAutoscalerBehavior": "1 scaleUp 2 scaleDown",
    "h.HPAScalingRules": "3 stabilizationWindowSeconds* 1 selectPolicy* 2 policies 4 tolerance*",
    "h.HPAScalingPolicy": "1 type 2 value 3 periodSeconds",
    "h.HorizontalPodAutoscalerCondition": (
        "1 type 2 status 3 lastTransitionTime 4 reason 5 message 6 observedGeneration"),
    "h.HorizontalPodAutoscalerStatus": (
        "1 observedGeneration* 2 lastScaleTime 3 currentReplicas 4 desiredReplicas*"
        " 5 currentMetrics 6 conditions"),
    # autoscaling/v1 (`kubectl autoscale` of kubectl 1.32)
    "h1.HorizontalPodAutoscaler": _OBJECT,
    "h1.HorizontalPodAutoscalerSpec": (
        "1 scaleTargetRef 2 minReplicas* 3 maxReplicas 4 targetCPUUtilizationPercentage*"),
    "h1.CrossVersionObjectReference": "1 kind 2 name 3 apiVersion",
    "h1.HorizontalPodAutoscalerStatus": (
        "1 observedGeneration* 2 lastScaleTime 3 currentReplicas* 4 desiredReplicas*"
        " 5 currentCPUUtilizationPercentage*"),
    # policy/v1 (`kubectl create poddisruptionbudget`)
    "p.PodDisruptionBudget": _OBJECT,
    "p.PodDisruptionBudgetSpec": (
        "1 minAvailable* 2 selector 3 maxUnavailable* 4 unhealthyPodEvictionPolicy*"),
    "p.PodDisruptionBudgetStatus": (
        "1 observedGeneration 2 disruptedPods 3 disruptionsAllowed* 4 currentHealthy*"
        " 5 desiredHealthy* 6 expectedPods* 7 conditions"),
    "n.Ingress": _OBJECT,
    "n.IngressSpec": "4 ingressClassName* 1 defaultBackend 2 tls 3 rules",
    "n.IngressBackend": "4 service 3 resource",
    "n.IngressServiceBackend": "1 name 2 port",
    "n.ServiceBackendPort": "1 name 2 number",
    "n.IngressTLS": "1 hosts 2 secretName",
    "n.IngressRule": "1 host 2 @n.IngressRuleValue",
    "n.IngressRuleValue": "1 http",
    "n.HTTPIngressRuleValue": "1 paths",
    "n.HTTPIngressPath": "1 path 3 pathType* 2 backend",
    "n.IngressStatus": "1 loadBalancer",
    "n.IngressLoadBalancerStatus": "1 ingress",
    "n.IngressLoadBalancerIngress": "1 ip 2 hostname 4 ports",
    "n.IngressPortStatus": "1 port 2 protocol 3 error*",
    # core/v1: top-level kinds
    "c.Service": _OBJECT,
    "c.Pod": _OBJECT,
    "c.Namespace": _OBJECT,
    "c.ConfigMap": "1 metadata 4 immutable* 2 data 3 binaryData",
    "c.Secret": "1 metadata 5 immutable* 2 data 4 stringData 3 type",
    "c.ServiceAccount": ("1 metadata 2 secrets 3 imagePullSecrets 4 automountServiceAccountToken*"),
    # core/v1: Service
    "c.ServiceSpec": (
        "1 ports 2 selector 3 clusterIP 18 clusterIPs 4 type 5 externalIPs 7 sessionAffinity"
        " 8 loadBalancerIP 9 loadBalancerSourceRanges 10 externalName 11 externalTrafficPolicy"
        " 12 healthCheckNodePort 13 publishNotReadyAddresses 14 sessionAffinityConfig"
        " 19 ipFamilies 17 ipFamilyPolicy* 20 allocateLoadBalancerNodePorts*"
        " 21 loadBalancerClass* 22 internalTrafficPolicy* 23 trafficDistribution*"
    ),
    "c.ServicePort": "1 name 2 protocol 6 appProtocol* 3 port 4 targetPort 5 nodePort",
    "c.SessionAffinityConfig": "1 clientIP",
    "c.ClientIPConfig": "1 timeoutSeconds*",
    "c.ServiceStatus": "1 loadBalancer 2 conditions",
    "c.LoadBalancerStatus": "1 ingress",
    "c.LoadBalancerIngress": "1 ip 2 hostname 3 ipMode* 4 ports",
    "c.PortStatus": "1 port 2 protocol 3 error*",
    # core/v1: Namespace, ServiceAccount, references
    "c.NamespaceSpec": "1 finalizers",
    "c.NamespaceStatus": "1 phase 2 conditions",
    "c.NamespaceCondition": "1 type 2 status 4 lastTransitionTime 5 reason 6 message",
    "c.ObjectReference": (
        "1 kind 2 namespace 3 name 4 uid 5 apiVersion 6 resourceVersion 7 fieldPath"
    ),
    "c.LocalObjectReference": "1 name",
    "c.TypedLocalObjectReference": "1 apiGroup* 2 kind 3 name",
    "c.TypedObjectReference": "1 apiGroup* 2 kind 3 name 4 namespace*",
    "c.SecretReference": "1 name 2 namespace",
    # core/v1: Pod
    "c.PodTemplateSpec": "1 metadata 2 spec",
    "c.PodSpec": (
        "1 volumes 20 initContainers 2 containers 34 ephemeralContainers 3 restartPolicy"
        " 4 terminationGracePeriodSeconds* 5 activeDeadlineSeconds* 6 dnsPolicy"
        " 7 nodeSelector 8 serviceAccountName 9 serviceAccount"
        " 21 automountServiceAccountToken* 10 nodeName 11 hostNetwork 12 hostPID 13 hostIPC"
        " 27 shareProcessNamespace* 14 securityContext 15 imagePullSecrets 16 hostname"
        " 17 subdomain 18 affinity 19 schedulerName 22 tolerations 23 hostAliases"
        " 24 priorityClassName 25 priority* 26 dnsConfig 28 readinessGates"
        " 29 runtimeClassName* 30 enableServiceLinks* 31 preemptionPolicy* 32 overhead"
        " 33 topologySpreadConstraints 35 setHostnameAsFQDN* 36 os 37 hostUsers*"
        " 38 schedulingGates 39 resourceClaims 40 resources 41 hostnameOverride*"
        " 42 workloadRef"
    ),
    "c.Container": _CONTAINER,
    "c.EphemeralContainer": "1 @c.EphemeralContainerCommon 2 targetContainerName",
    "c.EphemeralContainerCommon": _CONTAINER,
    "c.ContainerPort": "1 name 2 hostPort 3 containerPort 4 protocol 5 hostIP",
    "c.ContainerResizePolicy": "1 resourceName 2 restartPolicy",
    "c.ContainerRestartRule": "1 action 2 exitCodes",
    "c.ContainerRestartRuleOnExitCodes": "1 operator 2 values",
    "c.EnvFromSource": "1 prefix 2 configMapRef 3 secretRef",
    "c.EnvVar": "1 name 2 value 3 valueFrom",
    "c.EnvVarSource": (
        "1 fieldRef 2 resourceFieldRef 3 configMapKeyRef 4 secretKeyRef 5 fileKeyRef"
    ),
    "c.ObjectFieldSelector": "1 apiVersion 2 fieldPath",
    "c.ResourceFieldSelector": "1 containerName 2 resource 3 divisor",
    "c.ConfigMapKeySelector": "1 @c.LocalObjectReference 2 key 3 optional*",
    "c.SecretKeySelector": "1 @c.LocalObjectReference 2 key 3 optional*",
    "c.FileKeySelector": "1 volumeName 2 path 3 key 4 optional*",
    "c.ConfigMapEnvSource": "1 @c.LocalObjectReference 2 optional*",
    "c.SecretEnvSource": "1 @c.LocalObjectReference 2 optional*",
    "c.ResourceRequirements": "1 limits 2 requests 3 claims",
    "c.ResourceClaim": "1 name 2 request",
    "c.VolumeMount": (
        "1 name 2 readOnly 7 recursiveReadOnly* 3 mountPath 4 subPath 5 mountPropagation*"
        " 6 subPathExpr"
    ),
    "c.VolumeDevice": "1 name 2 devicePath",
    "c.Probe": (
        "1 @c.ProbeHandler 2 initialDelaySeconds 3 timeoutSeconds 4 periodSeconds"
        " 5 successThreshold 6 failureThreshold 7 terminationGracePeriodSeconds*"
    ),
    "c.ProbeHandler": "1 exec 2 httpGet 3 tcpSocket 4 grpc",
    "c.ExecAction": "1 command",
    "c.HTTPGetAction": "1 path 2 port 3 host 4 scheme 5 httpHeaders",
    "c.HTTPHeader": "1 name 2 value",
    "c.TCPSocketAction": "1 port 2 host",
    "c.GRPCAction": "1 port 2 service*",
    "c.SleepAction": "1 seconds",
    "c.Lifecycle": "1 postStart 2 preStop 3 stopSignal*",
    "c.LifecycleHandler": "1 exec 2 httpGet 3 tcpSocket 4 sleep",
    "c.SecurityContext": (
        "1 capabilities 2 privileged* 3 seLinuxOptions 10 windowsOptions 4 runAsUser*"
        " 8 runAsGroup* 5 runAsNonRoot* 6 readOnlyRootFilesystem*"
        " 7 allowPrivilegeEscalation* 9 procMount* 11 seccompProfile 12 appArmorProfile"
        " 13 ulimits"
    ),
    "c.PodSecurityContext": (
        "1 seLinuxOptions 8 windowsOptions 2 runAsUser* 6 runAsGroup* 3 runAsNonRoot*"
        " 4 supplementalGroups 12 supplementalGroupsPolicy* 5 fsGroup* 7 sysctls"
        " 9 fsGroupChangePolicy* 10 seccompProfile 11 appArmorProfile 13 seLinuxChangePolicy*"
    ),
    "c.Capabilities": "1 add 2 drop",
    "c.SELinuxOptions": "1 user 2 role 3 type 4 level",
    "c.WindowsSecurityContextOptions": (
        "1 gmsaCredentialSpecName* 2 gmsaCredentialSpec* 3 runAsUserName* 4 hostProcess*"
    ),
    "c.SeccompProfile": "1 type 2 localhostProfile*",
    "c.AppArmorProfile": "1 type 2 localhostProfile*",
    "c.Ulimit": "1 name 2 hard 3 soft",
    "c.Sysctl": "1 name 2 value",
    "c.Affinity": "1 nodeAffinity 2 podAffinity 3 podAntiAffinity",
    "c.NodeAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution"
        " 2 preferredDuringSchedulingIgnoredDuringExecution"
    ),
    "c.NodeSelector": "1 nodeSelectorTerms",
    "c.NodeSelectorTerm": "1 matchExpressions 2 matchFields",
    "c.NodeSelectorRequirement": "1 key 2 operator 3 values",
    "c.PreferredSchedulingTerm": "1 weight 2 preference",
    "c.PodAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution"
        " 2 preferredDuringSchedulingIgnoredDuringExecution"
    ),
    "c.PodAntiAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution"
        " 2 preferredDuringSchedulingIgnoredDuringExecution"
    ),
    "c.PodAffinityTerm": (
        "1 labelSelector 2 namespaces 3 topologyKey 4 namespaceSelector 5 matchLabelKeys"
        " 6 mismatchLabelKeys"
    ),
    "c.WeightedPodAffinityTerm": "1 weight 2 podAffinityTerm",
    "c.Toleration": "1 key 2 operator 3 value 4 effect 5 tolerationSeconds*",
    "c.HostAlias": "1 ip 2 hostnames",
    "c.PodDNSConfig": "1 nameservers 2 searches 3 options",
    "c.PodDNSConfigOption": "1 name 2 value*",
    "c.PodReadinessGate": "1 conditionType",
    "c.PodOS": "1 name",
    "c.PodSchedulingGate": "1 name",
    "c.PodResourceClaim": "1 name 3 resourceClaimName* 4 resourceClaimTemplateName*",
    "c.TopologySpreadConstraint": (
        "1 maxSkew 2 topologyKey 3 whenUnsatisfiable 4 labelSelector 5 minDomains*"
        " 6 nodeAffinityPolicy* 7 nodeTaintsPolicy* 8 matchLabelKeys"
    ),
    "c.WorkloadReference": "1 name 2 podGroup 3 podGroupReplicaKey",
    # core/v1: Pod status
    "c.PodStatus": (
        "17 observedGeneration 1 phase 2 conditions 3 message 4 reason 11 nominatedNodeName"
        " 5 hostIP 16 hostIPs 6 podIP 12 podIPs 7 startTime 10 initContainerStatuses"
        " 8 containerStatuses 9 qosClass 13 ephemeralContainerStatuses 14 resize"
        " 15 resourceClaimStatuses 19 allocatedResources 20 resources"
    ),
    "c.PodCondition": (
        "1 type 7 observedGeneration 2 status 3 lastProbeTime 4 lastTransitionTime 5 reason"
        " 6 message"
    ),
    "c.HostIP": "1 ip",
    "c.PodIP": "1 ip",
    "c.PodResourceClaimStatus": "1 name 2 resourceClaimName*",
    "c.ContainerStatus": (
        "1 name 2 state 3 lastState 4 ready 5 restartCount 6 image 7 imageID 8 containerID"
        " 9 started* 10 allocatedResources 11 resources 12 volumeMounts 13 user"
        " 14 allocatedResourcesStatus 15 stopSignal*"
    ),
    "c.ContainerState": "1 waiting 2 running 3 terminated",
    "c.ContainerStateWaiting": "1 reason 2 message",
    "c.ContainerStateRunning": "1 startedAt",
    "c.ContainerStateTerminated": (
        "1 exitCode 2 signal 3 reason 4 message 5 startedAt 6 finishedAt 7 containerID"
    ),
    "c.ContainerUser": "1 linux",
    "c.LinuxContainerUser": "1 uid 2 gid 3 supplementalGroups",
    "c.VolumeMountStatus": "1 name 2 mountPath 3 readOnly 4 recursiveReadOnly*",
    "c.ResourceStatus": "1 name 2 resources",
    "c.ResourceHealth": "1 resourceID 2 health",
    # core/v1: volumes
    "c.Volume": "1 name 2 @c.VolumeSource",
    "c.VolumeSource": (
        "1 hostPath 2 emptyDir 3 gcePersistentDisk 4 awsElasticBlockStore 5 gitRepo 6 secret"
        " 7 nfs 8 iscsi 9 glusterfs 10 persistentVolumeClaim 11 rbd 12 flexVolume 13 cinder"
        " 14 cephfs 15 flocker 16 downwardAPI 17 fc 18 azureFile 19 configMap"
        " 20 vsphereVolume 21 quobyte 22 azureDisk 23 photonPersistentDisk 26 projected"
        " 24 portworxVolume 25 scaleIO 27 storageos 28 csi 29 ephemeral 30 image"
    ),
    "c.HostPathVolumeSource": "1 path 2 type*",
    "c.EmptyDirVolumeSource": "1 medium 2 sizeLimit",
    "c.GCEPersistentDiskVolumeSource": "1 pdName 2 fsType 3 partition 4 readOnly",
    "c.AWSElasticBlockStoreVolumeSource": "1 volumeID 2 fsType 3 partition 4 readOnly",
    "c.GitRepoVolumeSource": "1 repository 2 revision 3 directory",
    "c.SecretVolumeSource": "1 secretName 2 items 3 defaultMode* 4 optional*",
    "c.NFSVolumeSource": "1 server 2 path 3 readOnly",
    "c.ISCSIVolumeSource": (
        "1 targetPortal 2 iqn 3 lun 4 iscsiInterface 5 fsType 6 readOnly 7 portals"
        " 8 chapAuthDiscovery 11 chapAuthSession 10 secretRef 12 initiatorName*"
    ),
    "c.GlusterfsVolumeSource": "1 endpoints 2 path 3 readOnly",
    "c.PersistentVolumeClaimVolumeSource": "1 claimName 2 readOnly",
    "c.RBDVolumeSource": (
        "1 monitors 2 image 3 fsType 4 pool 5 user 6 keyring 7 secretRef 8 readOnly"
    ),
    "c.FlexVolumeSource": "1 driver 2 fsType 3 secretRef 4 readOnly 5 options",
    "c.CinderVolumeSource": "1 volumeID 2 fsType 3 readOnly 4 secretRef",
    "c.CephFSVolumeSource": "1 monitors 2 path 3 user 4 secretFile 5 secretRef 6 readOnly",
    "c.FlockerVolumeSource": "1 datasetName 2 datasetUUID",
    "c.DownwardAPIVolumeSource": "1 items 2 defaultMode*",
    "c.DownwardAPIVolumeFile": "1 path 2 fieldRef 3 resourceFieldRef 4 mode*",
    "c.FCVolumeSource": "1 targetWWNs 2 lun* 3 fsType 4 readOnly 5 wwids",
    "c.AzureFileVolumeSource": "1 secretName 2 shareName 3 readOnly",
    "c.ConfigMapVolumeSource": ("1 @c.LocalObjectReference 2 items 3 defaultMode* 4 optional*"),
    "c.KeyToPath": "1 key 2 path 3 mode*",
    "c.VsphereVirtualDiskVolumeSource": (
        "1 volumePath 2 fsType 3 storagePolicyName 4 storagePolicyID"
    ),
    "c.QuobyteVolumeSource": "1 registry 2 volume 3 readOnly 4 user 5 group 6 tenant",
    "c.AzureDiskVolumeSource": (
        "1 diskName 2 diskURI 3 cachingMode* 4 fsType* 5 readOnly* 6 kind*"
    ),
    "c.PhotonPersistentDiskVolumeSource": "1 pdID 2 fsType",
    "c.ProjectedVolumeSource": "1 sources 2 defaultMode*",
    "c.VolumeProjection": (
        "1 secret 2 downwardAPI 3 configMap 4 serviceAccountToken 5 clusterTrustBundle"
        " 6 podCertificate"
    ),
    "c.SecretProjection": "1 @c.LocalObjectReference 2 items 4 optional*",
    "c.ConfigMapProjection": "1 @c.LocalObjectReference 2 items 4 optional*",
    "c.DownwardAPIProjection": "1 items",
    "c.ServiceAccountTokenProjection": "1 audience 2 expirationSeconds* 3 path",
    "c.ClusterTrustBundleProjection": ("1 name* 2 signerName* 3 labelSelector 5 optional* 4 path"),
    "c.PodCertificateProjection": (
        "1 signerName 2 keyType 3 maxExpirationSeconds* 4 credentialBundlePath 5 keyPath"
        " 6 certificateChainPath 7 userAnnotations"
    ),
    "c.PortworxVolumeSource": "1 volumeID 2 fsType 3 readOnly",
    "c.ScaleIOVolumeSource": (
        "1 gateway 2 system 3 secretRef 4 sslEnabled 5 protectionDomain 6 storagePool"
        " 7 storageMode 8 volumeName 9 fsType 10 readOnly"
    ),
    "c.StorageOSVolumeSource": ("1 volumeName 2 volumeNamespace 3 fsType 4 readOnly 5 secretRef"),
    "c.CSIVolumeSource": (
        "1 driver 2 readOnly* 3 fsType* 4 volumeAttributes 5 nodePublishSecretRef"
    ),
    "c.EphemeralVolumeSource": "1 volumeClaimTemplate",
    "c.PersistentVolumeClaimTemplate": "1 metadata 2 spec",
    "c.PersistentVolumeClaimSpec": (
        "1 accessModes 4 selector 2 resources 3 volumeName 5 storageClassName*"
        " 6 volumeMode* 7 dataSource 8 dataSourceRef 9 volumeAttributesClassName*"
    ),
    "c.VolumeResourceRequirements": "1 limits 2 requests",
    "c.ImageVolumeSource": "1 reference 2 pullPolicy",
}


@dataclass(frozen=True)
class FieldSpec:
    """How one field number maps onto JSON."""

    name: str  # JSON name; "" for an inlined struct
    pointer: bool = False  # keep zero values (Go pointer field)
    inline: str = ""  # definition name of an inlined struct


def _expand(short: str) -> str:
    for prefix, full in _PREFIXES.items():
        if short.startswith(prefix):
            return full + short[len(prefix) :]
    return short


def _parse(spec: str) -> dict[int, FieldSpec]:
    tokens = spec.split()
    fields: dict[int, FieldSpec] = {}
    for number, word in zip(tokens[::2], tokens[1::2], strict=True):
        if word.startswith("@"):
            fields[int(number)] = FieldSpec("", inline=_expand(word[1:]))
        else:
            fields[int(number)] = FieldSpec(word.rstrip("*"), pointer=word.endswith("*"))
    return fields


@functools.cache
def _messages() -> dict[str, dict[int, FieldSpec]]:
    return {_expand(name): _parse(spec) for name, spec in _TABLE.items()}


def message_fields(definition: str) -> dict[int, FieldSpec] | None:
    """The field table of a definition (`io.k8s.api.core.v1.ServicePort`), or None."""
    return _messages().get(definition)
