"""A dedicated worker catalyst (seed 002): heavy work runs in its own thread while the main
catalyst stays free, and the result comes back as an event sparkle."""
from tasktonic import *


class MathWorker(ttCatalyst):
    def ttsc__crunch_numbers(self):
        self.log("Starting heavy processing...")
        result = sum(i * i for i in range(200_000))  # blocks THIS catalyst's thread only
        self.base.ttse__on_math_done(result)


class MainApp(ttTonic):
    def ttse__on_start(self):
        self.worker = MathWorker()  # spawns the worker in its own thread
        self.worker.ttsc__crunch_numbers()
        self.log("Worker is busy, but I am still free to react to UI events!")

    def ttse__on_math_done(self, result):
        self.log(f"The heavy lifting is done! Result: {result}")
        self.finish()


class WorkerApp(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'screen'),)

    def creating_starting_tonics(self):
        MainApp()


if __name__ == '__main__':
    WorkerApp()
