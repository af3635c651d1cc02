"""UDP ping-pong between two sockets on a selector catalyst; it ends after ten rounds.

Run it with ``python -m examples.udp_ping_pong``.
"""
from tasktonic import *
from tasktonic.net import ttUdpSocket
from tasktonic.selector import ttSelectorCatalyst

ROUNDS = 10


class PingPongDemo(ttTonic):
    def ttse__on_start(self):
        net = ttSelectorCatalyst(name='net')
        self.ping = ttUdpSocket('127.0.0.1', 0, catalyst=net)
        self.pong = ttUdpSocket('127.0.0.1', 0, catalyst=net)
        self.ping.send_to(b'ping 1', ('127.0.0.1', self.pong.port))

    def ttse__on_udp_data(self, sock, data, addr):
        self.log(f'{data.decode()} from port {addr[1]}')
        n = int(data.split()[1])
        if sock is self.pong:
            sock.send_to(b'pong %d' % n, addr)
        elif n < ROUNDS:
            sock.send_to(b'ping %d' % (n + 1), addr)
        else:
            self.finish()                  # closes both sockets; the net catalyst ends too

    def ttse__on_udp_error(self, sock, error, addr):
        self.log(f'UDP error towards {addr}: {error}')
        self.finish()


class UdpPingPongApp(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'screen'),)

    def creating_starting_tonics(self):
        PingPongDemo()


if __name__ == '__main__':
    UdpPingPongApp()
