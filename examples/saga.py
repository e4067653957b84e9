"""Compensation: a trip is booked in steps; when one fails, the steps already done are undone.

    replayflow workflow.start --local examples.saga.TripWorkflow --input '["ann", 300]'
    # prints {"booked": true, "car": "car-ann", "hotel": ..., "receipt": "ann paid 300"}
    replayflow workflow.start --local examples.saga.TripWorkflow --input '["ann", 5000]' \
        --history-file trip.json
    # prints {"booked": false, "error": "card declined for 5000", "undone": 4}
    replayflow workflow.tasks --history-file trip.json    # the undo rows, newest booking first

- `with self.saga() as saga:` opens a scope; `self.submit(fn, ..., __compensate=undo)` registers
  the undo of that task, and `saga.add(undo, *args)` an undo step of its own.
- When an error leaves the block, the undos run in reverse order of registration, one at a time:
  refund, the notice, cancel_hotel, cancel_car. `charge` started and then failed, so `refund` runs
  too, with `failure=` set: it decides there is nothing to give back.
- Each undo gets the task's own arguments, plus `result=` (what the task returned), `failure=`
  (how it failed) and `task_id=` (the task's id: the key that makes an undo idempotent).
- Then the error goes on, here to the `except` around the block.
"""

from replayflow import Workflow, activity
from replayflow.errors import TaskFailed
from replayflow.saga import ENDED_MARKER


@activity.with_attributes(task_list="quickstart", version="example")
def reserve_car(name):
    return f"car-{name}"


@activity.with_attributes(task_list="quickstart", version="example")
def cancel_car(name, result=None, failure=None, task_id=None):
    return f"cancelled {result}"


@activity.with_attributes(task_list="quickstart", version="example")
def book_hotel(name, car):
    return f"hotel-{name}-{car}"


@activity.with_attributes(task_list="quickstart", version="example")
def cancel_hotel(name, car, result=None, failure=None, task_id=None):
    return f"cancelled {result}"


@activity.with_attributes(task_list="quickstart", version="example")
def charge(name, hotel, amount):
    if amount > 1000:
        raise ValueError(f"card declined for {amount}")
    return f"{name} paid {amount}"


@activity.with_attributes(task_list="quickstart", version="example")
def refund(name, hotel, amount, result=None, failure=None, task_id=None):
    if failure is not None:  # the charge itself failed: nothing was taken
        return f"nothing to refund ({failure['message']})"
    return f"refunded {amount} to {name} (charge {task_id})"


@activity.with_attributes(task_list="quickstart", version="example")
def notify_undo(name):
    return f"told {name} the trip is off"


class TripWorkflow(Workflow):
    name = "saga-trip"
    version = "example"
    task_list = "example"

    def run(self, name, amount):
        try:
            with self.saga() as saga:
                car = self.submit(reserve_car, name, __compensate=cancel_car)
                hotel = self.submit(book_hotel, name, car, __compensate=cancel_hotel)
                saga.add(notify_undo, name)
                receipt = self.submit(charge, name, hotel, amount, __compensate=refund).result
        except TaskFailed as exc:
            ended = [m.details for m in self.list_markers() if m.name == ENDED_MARKER]
            return {"booked": False, "error": exc.message, "undone": ended[-1]["compensated"]}
        return {"booked": True, "car": car.result, "hotel": hotel.result, "receipt": receipt}
