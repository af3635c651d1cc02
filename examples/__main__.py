"""``make demo``: run the seed examples one after the other."""
from . import hello_world, services, worker_catalyst

for title, formula in (("hello world (seed 001 quick start)", hello_world.MyApp),
                       ("a service with two consumers (seed 000)", services.MyApplication),
                       ("a worker catalyst (seed 002)", worker_catalyst.WorkerApp)):
    print(f"\n=== {title} ===")
    formula()
print("\nall examples finished")
