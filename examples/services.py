"""Services (seed 000): one database service shared by two consumers, and a base-class
service bound in the formula to its concrete implementation."""
from tasktonic import *


class SharedDatabaseService(ttTonic):
    _tt_is_service = "SharedDatabaseService"

    def __init__(self, srv_db_url, **kwargs):
        """Executed exactly once, on the very first call."""
        super().__init__(**kwargs)
        self.db_url = srv_db_url
        self.authorized_clients = {}
        self.records = []
        self.log(f"Database connected at: {self.db_url}")

    def _tt_init_service_base(self, base, ctxt_access_level="read", **kwargs):
        """Executed on every call, in the CALLER's thread: only queue a sparkle here."""
        if base is None:
            return
        self.ttsc__register_client(base, ctxt_access_level)

    def ttsc__register_client(self, client_instance, access_level):
        self.authorized_clients[client_instance.id] = {"instance": client_instance,
                                                       "level": access_level}
        self.log(f"Client {client_instance.id} registered with level: {access_level}")

    def ttsc__write_record(self, record):
        self.records.append(record)
        self.log(f"stored {record}")


class DataAnalyzer(ttTonic):
    def ttse__on_start(self):
        self.database = SharedDatabaseService(srv_db_url="postgresql://localhost:5432/prod",
                                              ctxt_access_level="write")
        self.ttsc__process_measurement({"sensor": self.name, "value": 21.5})

    def ttsc__process_measurement(self, measurement_data):
        self.database.ttsc__write_record(measurement_data)
        self.finish()


class ConnectionService(ttCatalyst):
    """The contract: consumers ask for this class."""
    _tt_is_service = "central_connection_service"

    def ttsc__send_packet(self, payload):
        pass


class IpConnectionService(ConnectionService):
    """The implementation the formula starts first, under the same service name."""

    def __init__(self, srv_host, srv_port, **kwargs):
        super().__init__(**kwargs)
        self.host = srv_host
        self.port = srv_port
        self.to_state("disconnected")

    def ttsc_disconnected__send_packet(self, payload):
        self.log("Error: Cannot send data, socket is closed!")

    def ttsc_connected__send_packet(self, payload):
        self.log(f"Data sent to {self.host}: {payload}")


class ProductionTonic(ttTonic):
    def ttse__on_start(self):
        self.network = ConnectionService()
        self.network.ttsc__send_packet("Test message")
        self.finish()


class MyApplication(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'screen'),)

    def creating_starting_tonics(self):
        IpConnectionService(srv_host="10.0.0.15", srv_port=8080)
        ProductionTonic()
        DataAnalyzer()
        DataAnalyzer()


if __name__ == '__main__':
    MyApplication()
