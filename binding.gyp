{
  # Native addons (`npm install` builds them: npm runs `node-gyp rebuild` when a binding.gyp is at the
  # package root). Each one is optional: the agent falls back when build/Release/<name>.node is missing.
  #   packet_socket: sends gratuitous ARP frames on an AF_PACKET socket (native/packet_socket.c);
  #                  fallback: iputils `arping`.
  #   netlink:       rtnetlink requests and link/address events (native/netlink.c);
  #                  fallback: iproute2 `ip`.
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
    }
  ]
}
