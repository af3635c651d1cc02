"""TCP echo server and client in one application, on a selector catalyst; it ends by itself.

The echo tonic owns a ttTcpServer and a ttTcpClient (both on one ttSelectorCatalyst, so their
sockets never block anybody); it runs on the main catalyst and hears every socket event as an
event sparkle. The client sends 100 numbered lines, the server side echoes them, and once all
have come back the client closes; the server side sees the orderly close and the app finishes.
Run it with ``python -m examples.tcp_echo``.
"""
from tasktonic import *
from tasktonic.net import ttTcpClient, ttTcpServer
from tasktonic.selector import ttSelectorCatalyst

LINES = 100


class EchoDemo(ttTonic):
    def ttse__on_start(self):
        net = ttSelectorCatalyst(name='net')
        self.server = ttTcpServer('127.0.0.1', 0, catalyst=net)     # port 0: the OS picks
        self.client = ttTcpClient('127.0.0.1', self.server.port, catalyst=net)
        self.expected = b''.join(b'line %d\n' % i for i in range(LINES))
        self.echoed = b''
        self.log(f'echo server listening on 127.0.0.1:{self.server.port}')

    def ttse__on_tcp_accepted(self, server, conn):
        self.log('server accepted a connection')

    def ttse__on_tcp_connected(self, conn):
        self.log('client connected; sending')
        for i in range(LINES):
            conn.ttsc__send(b'line %d\n' % i)

    def ttse__on_tcp_data(self, conn, data):
        if conn is self.client:
            self.echoed += data
            if len(self.echoed) == len(self.expected):
                assert self.echoed == self.expected
                self.log(f'client got all {LINES} lines back; closing')
                conn.ttsc__close()
        else:
            conn.ttsc__send(data)                                    # the echo

    def ttse__on_tcp_closed(self, conn, reason):
        who = 'client' if conn is self.client else 'server side'
        self.log(f'{who} closed ({reason or "orderly"})')
        if conn is not self.client:
            self.finish()                  # finishes the server and the net catalyst too


class TcpEchoApp(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'screen'),)

    def creating_starting_tonics(self):
        EchoDemo()


if __name__ == '__main__':
    TcpEchoApp()
