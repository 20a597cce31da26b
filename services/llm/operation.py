"""What every LLM operation is built from, and the per-job usage tally it calls through."""

from services.llm.accounting import UsageTally
from services.llm.budget import TokenBudget
from services.llm.chunking import Tokenizer
from services.llm.limits import Limits
from services.llm.provider import ChatProvider
from shared.sources import TextSource
from shared.worker import JobContext

__all__ = ["LlmOperation"]


class LlmOperation:
    def __init__(
        self,
        provider: ChatProvider | None,
        tokenizer: Tokenizer,
        source: TextSource,
        limits: Limits,
        budget: TokenBudget | None = None,
    ) -> None:
        self._provider = provider
        self._tokenizer = tokenizer
        self._source = source
        self._limits = limits
        self._budget = budget

    def _tally(self, ctx: JobContext) -> UsageTally:
        """Counts the job's calls, against its tenant's daily budget when there is one."""
        return UsageTally(self._tokenizer, ctx.command.tenant, self._budget)
