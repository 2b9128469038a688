{
  # Native addons (`npm install` builds them: npm runs `node-gyp rebuild` when a binding.gyp is at the
  # package root). Each one is optional: the agent falls back when build/Release/<name>.node is missing.
  #   packet_socket: sends gratuitous ARP frames on an AF_PACKET socket (native/packet_socket.c);
  #                  fallback: iputils `arping`.
  #   netlink:       rtnetlink requests and link/address events (native/netlink.c);
  #                  fallback: iproute2 `ip`.
  #   vrrp_offload:  VRRP's steady state (and a garp takeover) on a thread of its own
  #                  (native/vrrp_offload.c); fallback: every advert through the event loop.
  #   sd_notify:     systemd's notify protocol over NOTIFY_SOCKET (unix datagrams) and the watchdog's
  #                  stall warning thread (native/sd_notify.c); fallback: no notifications (said once).
  #   vrrp6_socket:  the VRRPv3-over-IPv6 socket (hop limit and destination of each received advert,
  #                  native/vrrp6_socket.c); no fallback: without it IPv6 instances cannot start.
  "targets": [
    {
      "target_name": "packet_socket",
      "sources": ["native/packet_socket.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "netlink",
      "sources": ["native/netlink.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "vrrp_offload",
      "sources": ["native/vrrp_offload.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-pthread"],
      "libraries": ["-pthread"]
    },
    {
      "target_name": "sd_notify",
      "sources": ["native/sd_notify.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-pthread"],
      "libraries": ["-pthread"]
    },
    {
      "target_name": "vrrp6_socket",
      "sources": ["native/vrrp6_socket.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
