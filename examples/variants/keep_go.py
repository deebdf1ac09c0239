"""The smallest useful variant: rfc whose helper leaves go alone when it starts."""
from mhmailbox.model.program import Thread
from mhmailbox.model.variants import Rfc


class KeepGo(Rfc):
    name = "keep-go"

    def guest_start(self, G: Thread) -> None:
        G.step("start", "at start: leave go alone (a command posted before is served)", None)
