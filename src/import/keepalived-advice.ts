// What to do instead, for every keepalived keyword `ha-agent import-keepalived` does not carry over,
// and which keywords belong to which block (so a keyword in the wrong block is a syntax error, not a
// silent drop). Contract: adviceFor(context, keyword) always returns a sentence (a specific one from
// the table, else a generic one for the block); the keyword sets are keepalived 2.2's own
// (keepalived/core/global_parser.c, keepalived/vrrp/vrrp_parser.c, keepalived/trackers/track_file.c).

/** The block a statement is read in. */
export type Context = 'top' | 'global_defs' | 'vrrp_instance' | 'vrrp_script' | 'vrrp_sync_group' | 'track_file' | 'track_process';

const MAIL = 'ha-agent sends no mail: use a notify hook (e.g. notify.any: [/usr/local/sbin/mail-state-change]) that sends it';
const LVS = 'ha-agent does not do load balancing; keep LVS/IPVS for it (keepalived with only its LVS blocks, or ipvsadm/ldirectord)';
const SCHED = 'set process scheduling and memory limits in the systemd unit instead (Nice=, CPUSchedulingPolicy=, CPUAffinity=, LimitRTTIME=)';
const SNMP = 'ha-agent has no SNMP or D-Bus: read /metrics (Prometheus) or /status (JSON) from its status server instead';
const GARP_TIMING = 'ha-agent sends each gratuitous-ARP burst back to back; garp: repeat, delay, refresh and refreshRepeat set its schedule';
const FIREWALL = 'ha-agent installs no firewall rules for the VIPs (keepalived does with vrrp_strict/no_accept): add nftables rules yourself if you relied on them';
const NS = 'run ha-agent itself inside that namespace (ip netns exec NAME ha-agent run …)';

/** Specific advice, keyed "context.keyword" or just "keyword" (any context). */
const ADVICE: Record<string, string> = {
  // top level
  'top.virtual_server': LVS,
  'top.virtual_server_group': LVS,
  'top.static_ipaddress': 'add static addresses with the system network configuration (systemd-networkd, ifupdown, netplan)',
  'top.static_routes': 'add static routes with the system network configuration (systemd-networkd, ifupdown, netplan)',
  'top.static_rules': 'add policy rules with the system network configuration (systemd-networkd, ifupdown, netplan)',
  'top.bfd_instance': 'BFD is not supported: track the peer or the service with a check (checks: type tcp, http or exec) instead',
  'top.garp_group': 'per-interface GARP groups are not supported: each instance has its own garp: schedule',
  'top.track_group': 'track groups are not supported: list what each instance tracks under its track:',
  'top.linkbeat_interfaces': 'ha-agent follows link state through netlink events; nothing to set',
  'top.net_namespace': NS,
  'top.net_namespace_ipvs': LVS,
  'top.instance': 'ha-agent has no instance names for shared configs: import each node\'s file separately',
  'top.use_pid_dir': 'systemd tracks ha-agent\'s pid; nothing to set',
  // global_defs
  'global_defs.notification_email': MAIL,
  'global_defs.notification_email_from': MAIL,
  'global_defs.smtp_server': MAIL,
  'global_defs.smtp_helo_name': MAIL,
  'global_defs.smtp_connect_timeout': MAIL,
  'global_defs.smtp_alert': MAIL,
  'global_defs.smtp_alert_vrrp': MAIL,
  'global_defs.smtp_alert_checker': MAIL,
  'global_defs.no_email_faults': MAIL,
  'global_defs.vrrp_iptables': FIREWALL,
  'global_defs.vrrp_ipsets': FIREWALL,
  'global_defs.nftables': FIREWALL,
  'global_defs.nftables_priority': FIREWALL,
  'global_defs.nftables_ifindex': FIREWALL,
  'global_defs.nftables_counters': FIREWALL,
  'global_defs.vrrp_mcast_group4': 'ha-agent sends multicast adverts to 224.0.0.18 only: use unicast peers (unicast_peer) if you need another path',
  'global_defs.vrrp_mcast_group6': 'ha-agent sends IPv6 multicast adverts to ff02::12 only: use unicast peers if you need another path',
  'global_defs.vrrp_garp_interval': GARP_TIMING,
  'global_defs.vrrp_gna_interval': GARP_TIMING,
  'global_defs.vrrp_garp_lower_prio_delay': GARP_TIMING,
  'global_defs.vrrp_min_garp': GARP_TIMING,
  'global_defs.vrrp_garp_extra_if': 'ha-agent sends gratuitous ARP on the instance\'s interface only',
  'global_defs.vrrp_higher_prio_send_advert': 'not supported: a master that hears a higher priority simply becomes BACKUP (RFC behaviour)',
  'global_defs.vrrp_priority': SCHED,
  'global_defs.vrrp_no_swap': SCHED,
  'global_defs.vrrp_cpu_affinity': SCHED,
  'global_defs.vrrp_rlimit_rttime': SCHED,
  'global_defs.vrrp_rlimit_rtime': SCHED,
  'global_defs.max_auto_priority': SCHED,
  'global_defs.min_auto_priority_delay': SCHED,
  'global_defs.notify_fifo_script': 'ha-agent writes the FIFO (notifyFifo) but starts no reader: run your FIFO reader as its own service',
  'global_defs.vrrp_notify_fifo_script': 'ha-agent writes the FIFO (notifyFifo) but starts no reader: run your FIFO reader as its own service',
  'global_defs.lvs_notify_fifo': LVS,
  'global_defs.lvs_notify_fifo_script': LVS,
  'global_defs.snmp_socket': SNMP,
  'global_defs.enable_traps': SNMP,
  'global_defs.enable_snmp_vrrp': SNMP,
  'global_defs.enable_snmp_keepalived': SNMP,
  'global_defs.enable_snmp_rfc': SNMP,
  'global_defs.enable_snmp_rfcv2': SNMP,
  'global_defs.enable_snmp_rfcv3': SNMP,
  'global_defs.enable_snmp_checker': SNMP,
  'global_defs.enable_dbus': SNMP,
  'global_defs.dbus_service_name': SNMP,
  'global_defs.startup_script': 'run it from the systemd unit (ExecStartPre=)',
  'global_defs.shutdown_script': 'run it from the systemd unit (ExecStopPost=)',
  'global_defs.net_namespace': NS,
  'global_defs.dynamic_interfaces': 'ha-agent needs each instance\'s interface at start-up (systemd: After=network-online.target); later link changes are followed (down = FAULT)',
  'global_defs.vrrp_startup_delay': 'delay the start in the systemd unit (ExecStartPre=/bin/sleep N)',
  'global_defs.vrrp_delay_after_boot': 'delay the start in the systemd unit (ExecStartPre=/bin/sleep N)',
  // vrrp_instance
  'vrrp_instance.mcast_src_ip': 'ha-agent sends multicast adverts from the interface\'s primary IPv4 address: make the address given here the primary one (or remove mcast_src_ip if it already is)',
  'vrrp_instance.dont_track_primary': 'ha-agent always puts an instance in FAULT while its interface is down; there is no way to ignore it',
  'vrrp_instance.use_vmac': 'no VMAC: ha-agent moves the VIP with gratuitous ARP from the interface\'s own MAC (peers and switches follow the GARP)',
  'vrrp_instance.use_vmac_addr': 'no VMAC: ha-agent moves the VIP with gratuitous ARP from the interface\'s own MAC',
  'vrrp_instance.vmac_xmit_base': 'no VMAC: ha-agent moves the VIP with gratuitous ARP from the interface\'s own MAC',
  'vrrp_instance.use_ipvlan': 'no ipvlan: ha-agent puts the VIPs on the instance\'s interface',
  'vrrp_instance.virtual_ipaddress_excluded': 'every ha-agent VIP is carried in the adverts, so these cannot simply be added to vips (a keepalived peer would reject the advert): add them with a notify.master / notify.backup hook, or put them in their own instance (with its own VRID) on every node',
  'vrrp_instance.virtual_rules': 'policy rules are not supported: add them with notify.master / notify.backup hooks (ip rule add/del)',
  'vrrp_instance.no_accept': FIREWALL,
  'vrrp_instance.promote_secondaries': 'set it with sysctl: net.ipv4.conf.IFACE.promote_secondaries=1',
  'vrrp_instance.smtp_alert': MAIL,
  'vrrp_instance.notify_deleted': 'not supported: an instance removed by a reload runs its notify.stop hook',
  'vrrp_instance.notify_master_rx_lower_pri': 'not supported as a hook: the notifyFifo and /status show the instance\'s state; use notify.master for takeovers',
  'vrrp_instance.notify_priority_changes': 'not supported: /status and /metrics show every priority change and why it happened',
  'vrrp_instance.garp_lower_prio_delay': GARP_TIMING,
  'vrrp_instance.garp_interval': GARP_TIMING,
  'vrrp_instance.gna_interval': GARP_TIMING,
  'vrrp_instance.garp_extra_if': 'ha-agent sends gratuitous ARP on the instance\'s interface only',
  'vrrp_instance.vmac_garp_intvl': 'no VMAC: garp.refresh sets periodic gratuitous ARP',
  'vrrp_instance.higher_prio_send_advert': 'not supported: a master that hears a higher priority simply becomes BACKUP (RFC behaviour)',
  'vrrp_instance.track_bfd': 'BFD is not supported: track the peer or the service with a check (checks: type tcp, http or exec) instead',
  'vrrp_instance.auth_hmac': 'HMAC authentication is not supported: use auth: { type: pass } (VRRPv2) or none, the same on every node',
  'vrrp_instance.debug': 'use log.level: debug',
  'vrrp_instance.lvs_sync_daemon_interface': LVS,
  'vrrp_instance.unicast_ttl': 'ha-agent sends adverts with TTL 255 and accepts only 255, as the RFC requires',
  'vrrp_instance.vrf': 'run ha-agent inside the VRF (ip vrf exec NAME ha-agent run …)',
  'vrrp_instance.kernel_rx_buf_size': 'ha-agent sizes its receive socket itself; nothing to set',
  // vrrp_sync_group
  'vrrp_sync_group.smtp_alert': MAIL,
  'vrrp_sync_group.notify_priority_changes': 'not supported: /status and /metrics show every priority change',
  // vrrp_script / track_file / track_process
  'vrrp_script.reverse': 'weight … reverse is not supported: invert the script\'s exit code instead',
  'track_file.init_file': 'create the file yourself before ha-agent starts (a missing file reads as 0)',
};

const GENERIC: Record<Context, string> = {
  top: 'ha-agent has no equivalent for this block: remove it, or keep keepalived for what it does',
  global_defs: 'ha-agent has no such global setting: remove it',
  vrrp_instance: 'ha-agent has no such instance setting: remove it',
  vrrp_script: 'ha-agent checks have no such setting: remove it',
  vrrp_sync_group: 'ha-agent sync groups have no such setting: remove it',
  track_file: 'ha-agent file checks have no such setting: remove it',
  track_process: 'ha-agent process checks have no such setting: remove it',
};

export function adviceFor(context: Context, keyword: string): string {
  return ADVICE[`${context}.${keyword}`] ?? ADVICE[keyword] ?? GENERIC[context];
}

// ---------------------------------------------------------------------------------------------
// keepalived's keywords per block (2.2.x), to tell "in the wrong block" from "unknown".

const words = (s: string) => new Set(s.trim().split(/\s+/));

export const TOP_KEYWORDS = words(`global_defs vrrp_instance vrrp_script vrrp_sync_group vrrp_track_file track_file
  vrrp_track_process track_group static_ipaddress static_routes static_rules garp_group linkbeat_interfaces
  virtual_server virtual_server_group bfd_instance net_namespace net_namespace_ipvs namespace_with_ipsets
  use_pid_dir instance child_wait_time`);

export const GLOBAL_KEYWORDS = words(`linkbeat_use_polling process_names process_name vrrp_process_name
  checker_process_name lvs_process_name bfd_process_name use_symlink_paths set_supplementary_groups router_id
  notification_email_from smtp_server smtp_helo_name smtp_connect_timeout notification_email smtp_alert
  startup_script startup_script_timeout shutdown_script shutdown_script_timeout max_auto_priority
  min_auto_priority_delay smtp_alert_vrrp smtp_alert_checker checker_log_all_failures dynamic_interfaces
  no_email_faults default_interface disable_local_igmp v3_checksum_as_v2 lvs_timeouts lvs_flush
  lvs_flush_on_stop lvs_flush_onstop lvs_sync_daemon vrrp_mcast_group4 vrrp_mcast_group6 vrrp_garp_master_delay
  vrrp_garp_master_repeat vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay
  vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval vrrp_gna_interval vrrp_min_garp
  vrrp_garp_extra_if vrrp_vmac_garp_intvl vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert vrrp_version
  vrrp_iptables vrrp_ipsets nftables nftables_priority nftables_ifindex vrrp_check_unicast_src
  vrrp_skip_check_adv_addr vrrp_strict vrrp_priority vrrp_no_swap vrrp_rt_priority vrrp_cpu_affinity
  vrrp_rlimit_rttime vrrp_rlimit_rtime nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark
  nftables_counters notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script
  vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload lvs_notify_fifo lvs_notify_fifo_script
  checker_priority checker_no_swap checker_rt_priority checker_cpu_affinity checker_rlimit_rttime
  checker_rlimit_rtime bfd_priority bfd_no_swap bfd_rt_priority bfd_cpu_affinity bfd_rlimit_rttime
  bfd_rlimit_rtime snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived enable_snmp_rfc
  enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_checker snmp_vs_stats_update_interval
  snmp_rs_stats_update_interval enable_dbus dbus_service_name dbus_no_interface_name script_user
  enable_script_security vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs
  vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs process_monitor_rcv_bufs_force
  lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs
  lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails vrrp_rx_bufs_policy
  vrrp_rx_bufs_multiplier vrrp_startup_delay vrrp_delay_after_boot log_unknown_vrids vrrp_owner_ignore_adverts
  vmac_prefix vmac_addr_prefix umask random_seed reload_check_config reload_time_file reload_repeat reload_file
  include_check config_save_dir tmp_config_directory data_use_instance json_version iproute_usr_dir
  iproute_etc_dir state_dump_file stats_dump_file json_dump_file net_namespace`);

export const INSTANCE_KEYWORDS = words(`use_vmac use_vmac_addr vmac_xmit_base use_ipvlan unicast_peer
  unicast_fault_no_peer check_unicast_src old_unicast_checksum native_ipv6 state interface vrf dont_track_primary
  track_interface track_script track_file track_process track_bfd mcast_src_ip unicast_src_ip mcast_dst_ip
  track_src_ip virtual_router_id unicast_ttl version priority advert_int virtual_ipaddress
  virtual_ipaddress_excluded no_virtual_ipaddress promote_secondaries linkbeat_use_polling v3_checksum_as_v2
  virtual_routes virtual_rules accept no_accept skip_check_adv_addr strict_mode preempt nopreempt preempt_delay
  debug notify_backup notify_master notify_fault notify_stop notify_deleted notify notify_master_rx_lower_pri
  smtp_alert notify_priority_changes lvs_sync_daemon_interface garp_master_delay garp_master_refresh
  garp_master_repeat garp_master_refresh_repeat garp_lower_prio_delay garp_lower_prio_repeat down_timer_adverts
  timer_expired_backup thread_timer_expired garp_extra_if vmac_garp_intvl lower_prio_no_advert
  higher_prio_send_advert owner_ignore_adverts kernel_rx_buf_size authentication auth_hmac`);

export const SCRIPT_KEYWORDS = words('script interval timeout weight rise fall user init_fail');

export const SYNC_GROUP_KEYWORDS = words(`group track_interface track_script track_file track_process track_bfd
  notify_backup notify_master notify_fault notify_stop notify smtp_alert global_tracking sync_group_tracking_weight
  notify_priority_changes`);

export const TRACK_FILE_KEYWORDS = words('file weight init_file');

export const TRACK_PROCESS_KEYWORDS = words(`process param_match weight quorum quorum_max delay terminate_delay
  fork_delay full_command`);

const OWN: Record<Context, Set<string>> = {
  top: TOP_KEYWORDS,
  global_defs: GLOBAL_KEYWORDS,
  vrrp_instance: INSTANCE_KEYWORDS,
  vrrp_script: SCRIPT_KEYWORDS,
  vrrp_sync_group: SYNC_GROUP_KEYWORDS,
  track_file: TRACK_FILE_KEYWORDS,
  track_process: TRACK_PROCESS_KEYWORDS,
};

/** True when `keyword` is one of keepalived's keywords for this block. */
export function belongsTo(context: Context, keyword: string): boolean {
  return OWN[context].has(keyword);
}

/** Names of the blocks `keyword` belongs to, when it does not belong to `context`. */
export function misplacedIn(context: Context, keyword: string): string | undefined {
  if (OWN[context].has(keyword)) return undefined;
  const homes: string[] = [];
  if (TOP_KEYWORDS.has(keyword)) homes.push('the top level');
  if (GLOBAL_KEYWORDS.has(keyword)) homes.push('global_defs');
  if (INSTANCE_KEYWORDS.has(keyword)) homes.push('vrrp_instance');
  if (SCRIPT_KEYWORDS.has(keyword)) homes.push('vrrp_script');
  if (SYNC_GROUP_KEYWORDS.has(keyword)) homes.push('vrrp_sync_group');
  return homes.length ? homes.join(' or ') : undefined;
}
