"""stackctl.lb: the embedded L4 round-robin load balancer.

Layers, lowest first:
    config      the lb.yaml format -> Listener/BackendSpec/Config values, every problem at once (pure)
    pool        round robin over eligible backends, passive/active health, drain (pure)
    proxyproto  PROXY protocol v1/v2 headers (pure)
    listener    what both TCP engines share: reconfiguration and draining
    proxy, udp  the TCP and UDP listeners (asyncio protocols)
    native      the TCP listener on the C relay (_relay.c, relay_loop.c: an epoll loop on its own
                thread); picked per listener by ``engine:``, proxy.py is the fallback
    health      active TCP checks feeding the pools
    metrics     Prometheus text (pure render) and its loopback HTTP endpoint
    admin       the owner-only unix socket (ping, stats, reload, stop)
    server      one balancer process: apply/reload a Config, SIGTERM drain, SIGHUP reload
    control     what the compose engine calls: ensure_balancer, update_backends, wait_drained,
                stop_balancer, balancer_stats, balancer_info (see its docstring)

Run on its own with ``stackctl lb serve -c lb.yaml``; see ``stackctl lb stats``.
"""
