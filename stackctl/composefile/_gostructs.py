"""compose-go v2.9.1's types as a table: the fields of each struct in declaration order (JSON keys).

Each struct is a string of ``key:kind`` items; a trailing ``!`` marks a field without ``omitempty``.
Kinds: ``str``, ``int``, ``bool``, ``float32``, ``*X`` (pointer: only null is empty), ``list<X>``,
``map<X>``, another struct name, or a special type decoded in :mod:`stackctl.composefile.gotypes`.
"""

from __future__ import annotations

# Struct tables: "key:type" and a trailing "!" for a field without omitempty.
STRUCTS: dict[str, str] = {
    "Project": "name:str services:map<ServiceConfig>! networks:map<NetworkConfig> volumes:map<VolumeConfig> "
               "secrets:map<SecretConfig> configs:map<ConfigObjConfig> models:map<ModelConfig>",
    "ServiceConfig": (
        "profiles:list<str> annotations:Mapping attach:*bool build:*BuildConfig develop:*DevelopConfig "
        "blkio_config:*BlkioConfig cap_add:list<str> cap_drop:list<str> cgroup_parent:str cgroup:str "
        "cpu_count:int cpu_percent:float32 cpu_period:int cpu_quota:int cpu_rt_period:int cpu_rt_runtime:int "
        "cpus:float32 cpuset:str cpu_shares:int command:ShellCommand! configs:list<FileReferenceConfig> "
        "container_name:str credential_spec:*CredentialSpecConfig depends_on:map<ServiceDependency> "
        "deploy:*DeployConfig device_cgroup_rules:list<str> devices:list<DeviceMapping> dns:StringList "
        "dns_opt:list<str> dns_search:StringList dockerfile:str domainname:str entrypoint:ShellCommand! "
        "provider:*ServiceProviderConfig environment:MappingWithEquals env_file:list<EnvFile> "
        "expose:StringOrNumberList extends:*ExtendsConfig external_links:list<str> extra_hosts:HostsList "
        "group_add:list<str> gpus:list<DeviceRequest> hostname:str healthcheck:*HealthCheckConfig image:str "
        "init:*bool ipc:str isolation:str labels:Labels label_file:list<str> links:list<str> "
        "logging:*LoggingConfig log_driver:str log_opt:Options mem_limit:UnitBytes mem_reservation:UnitBytes "
        "memswap_limit:UnitBytes mem_swappiness:UnitBytes mac_address:str models:map<*ServiceModelConfig> "
        "net:str network_mode:str networks:map<*ServiceNetworkConfig> oom_kill_disable:bool oom_score_adj:int "
        "pid:str pids_limit:int platform:str ports:list<ServicePortConfig> privileged:bool pull_policy:str "
        "read_only:bool restart:str runtime:str scale:*int secrets:list<FileReferenceConfig> "
        "security_opt:list<str> shm_size:UnitBytes stdin_open:bool stop_grace_period:*Duration stop_signal:str "
        "storage_opt:Options sysctls:Mapping tmpfs:StringList tty:bool ulimits:map<Ulimit> use_api_socket:bool "
        "user:str userns_mode:str uts:str volume_driver:str volumes:list<ServiceVolumeConfig> "
        "volumes_from:list<str> working_dir:str post_start:list<ServiceHook> pre_stop:list<ServiceHook>"),
    "ServiceProviderConfig": "type:str options:MultiOptions",
    "BuildConfig": (
        "context:str dockerfile:str dockerfile_inline:str entitlements:list<str> args:MappingWithEquals "
        "provenance:str sbom:str ssh:SSHConfig labels:Labels cache_from:StringList cache_to:StringList "
        "no_cache:bool additional_contexts:Mapping pull:bool extra_hosts:HostsList isolation:str network:str "
        "target:str secrets:list<FileReferenceConfig> shm_size:UnitBytes tags:StringList ulimits:map<Ulimit> "
        "platforms:StringList privileged:bool"),
    "BlkioConfig": "weight:int weight_device:list<WeightDevice> device_read_bps:list<ThrottleDevice> "
                   "device_read_iops:list<ThrottleDevice> device_write_bps:list<ThrottleDevice> "
                   "device_write_iops:list<ThrottleDevice>",
    "WeightDevice": "Path:str! Weight:int!",
    "ThrottleDevice": "Path:str! Rate:UnitBytes!",
    "DeviceMapping": "source:str target:str permissions:str",
    "LoggingConfig": "driver:str options:Options",
    "DeployConfig": "mode:str replicas:*int labels:Labels update_config:*UpdateConfig "
                    "rollback_config:*UpdateConfig resources:Resources restart_policy:*RestartPolicy "
                    "placement:Placement endpoint_mode:str",
    "UpdateConfig": "parallelism:*int delay:Duration failure_action:str monitor:Duration "
                    "max_failure_ratio:float32 order:str",
    "Resources": "limits:*Resource reservations:*Resource",
    "Resource": "cpus:float32 memory:UnitBytes pids:int devices:list<DeviceRequest> "
                "generic_resources:list<GenericResource>",
    "GenericResource": "discrete_resource_spec:*DiscreteGenericResource",
    "DiscreteGenericResource": "kind:str! value:int!",
    "RestartPolicy": "condition:str delay:*Duration max_attempts:*int window:*Duration",
    "Placement": "constraints:list<str> preferences:list<PlacementPreferences> max_replicas_per_node:int",
    "PlacementPreferences": "spread:str",
    "ServiceNetworkConfig": "aliases:list<str> driver_opts:Options gw_priority:int interface_name:str "
                            "ipv4_address:str ipv6_address:str link_local_ips:list<str> mac_address:str priority:int",
    "ServicePortConfig": "name:str mode:str host_ip:str target:uint32 published:str protocol:str app_protocol:str",
    "ServiceVolumeConfig": "type:str source:str target:str read_only:bool consistency:str "
                           "bind:*ServiceVolumeBind volume:*ServiceVolumeVolume tmpfs:*ServiceVolumeTmpfs "
                           "image:*ServiceVolumeImage",
    "ServiceVolumeBind": "selinux:str propagation:str create_host_path:bool recursive:str",
    "ServiceVolumeVolume": "labels:Mapping nocopy:bool subpath:str",
    "ServiceVolumeTmpfs": "size:UnitBytes mode:int",
    "ServiceVolumeImage": "subpath:str",
    "FileReferenceConfig": "source:str target:str uid:str gid:str mode:*FileMode",
    "NetworkConfig": "name:str driver:str driver_opts:Options ipam:IPAMConfig external:bool internal:bool "
                     "attachable:bool labels:Labels enable_ipv4:*bool enable_ipv6:*bool",
    "IPAMConfig": "driver:str config:list<*IPAMPool>",
    "IPAMPool": "subnet:str gateway:str ip_range:str aux_addresses:Mapping",
    "VolumeConfig": "name:str driver:str driver_opts:Options external:bool labels:Labels",
    "CredentialSpecConfig": "config:str file:str registry:str",
    "SecretConfig": "name:str file:str environment:str content:str external:bool labels:Labels driver:str "
                    "driver_opts:Options template_driver:str",
    "ConfigObjConfig": "name:str file:str environment:str content:str external:bool labels:Labels driver:str "
                       "driver_opts:Options template_driver:str",
    "ServiceDependency": "condition:str restart:bool required:bool!",
    "ExtendsConfig": "file:str service:str",
    "ServiceHook": "command:ShellCommand! user:str privileged:bool working_dir:str environment:MappingWithEquals",
    "DevelopConfig": "watch:list<Trigger>",
    "Trigger": "path:str! action:str! target:str exec:ServiceHook include:list<str> ignore:list<str> "
               "initial_sync:bool",
    "DeviceRequest": "capabilities:list<str> driver:str count:DeviceCount device_ids:list<str> options:Mapping",
    "HealthCheckConfig": "test:HealthCheckTest timeout:*Duration interval:*Duration retries:*int "
                         "start_period:*Duration start_interval:*Duration disable:bool",
    "ModelConfig": "name:str model:str context_size:int runtime_flags:list<str>",
    "ServiceModelConfig": "endpoint_var:str model_var:str",
}
# Structs whose x-* keys compose-go keeps (Go "Extensions" field); the others drop unknown keys.
NO_EXTENSIONS = {"DeviceRequest", "ExtendsConfig", "EnvFile"}
