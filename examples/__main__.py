"""``make demo``: run the examples one after the other."""
from . import hello_world, serial_echo, services, tcp_echo, udp_ping_pong, worker_catalyst

for title, run in (("hello world (seed 001 quick start)", hello_world.MyApp),
                   ("a service with two consumers (seed 000)", services.MyApplication),
                   ("a worker catalyst (seed 002)", worker_catalyst.WorkerApp),
                   ("TCP echo on the selector catalyst", tcp_echo.TcpEchoApp),
                   ("UDP ping-pong", udp_ping_pong.UdpPingPongApp),
                   ("serial echo over a pseudo-terminal", serial_echo.main)):
    print(f"\n=== {title} ===")
    run()
print("\nall examples finished")
