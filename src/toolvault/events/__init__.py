"""Events and webhooks (SPEC §15): every audit entry is an event.

:mod:`.model` holds the event, the endpoint and the delivery records; :mod:`.policy`
decides where a delivery may go (http/https, the ``[hooks] allow`` list, no private
addresses unless named); :mod:`.send` makes one signed Standard Webhooks request;
:mod:`.worker` delivers from the audit log (inside ``serve`` and ``hook deliver``);
:mod:`.bell` wakes the worker and the live stream when this process commits.

Kept light: nothing here is imported on the read path.
"""
