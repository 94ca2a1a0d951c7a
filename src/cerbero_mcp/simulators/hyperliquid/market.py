"""The Hyperliquid simulator's listed assets and their market data, on the shared `MarketModel`.

Perpetuals (USDC-margined, hourly funding) are indexed by their position in `meta.universe`, which
is also their asset id on /exchange; spot pairs are `spotMeta.universe` entries whose asset id is
10000 + `index` and whose /info name is `PURR/USDC` for the canonical pair and `@<index>` for the
others (hyperliquid.gitbook.io, "Asset IDs"). What is listed follows the clock: an asset appears
from its launch date on (HYPE's perpetual and its spot pair `@107` from 2024-11-29), so an instance
pinned before that date does not know it. Paths start at the anchor prices on the UTC day the
instance was built.

Prices follow "Tick and lot size": at most 5 significant figures and at most 6 − szDecimals
decimals for perps (8 − szDecimals for spot), integers always allowed; sizes have szDecimals
decimals. The engine's tick is the 5-significant-figure step at the anchor price, so the book it
shows is on the venue's grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from cerbero_mcp.simulators.engine import Instrument, MarketModel, Underlying

DAY = 86_400
HOUR = 3_600
SPOT_OFFSET = 10_000
MAX_DECIMALS_PERP = 6
MAX_DECIMALS_SPOT = 8
TAKER_FEE = Decimal("0.00045")
MAKER_FEE = Decimal("0.00015")
SPOT_TAKER_FEE = Decimal("0.0007")
SPOT_MAKER_FEE = Decimal("0.0004")


@dataclass(frozen=True)
class Coin:
    """An underlying: anchor price, annual vol, mean coin volume per minute."""

    name: str
    price: float
    vol: float
    volume: float


COINS = {
    "BTC": Coin("BTC", 95_000.0, 0.55, 20.0),
    "ETH": Coin("ETH", 3_500.0, 0.65, 400.0),
    "SOL": Coin("SOL", 150.0, 0.8, 8_000.0),
    "HYPE": Coin("HYPE", 25.0, 0.9, 30_000.0),
    "PURR": Coin("PURR", 0.2, 1.0, 500_000.0),
}
HYPE_LAUNCH = 1_732_838_400.0  # 2024-11-29T00:00:00Z


@dataclass(frozen=True)
class Perp:
    """One `meta.universe` entry."""

    name: str
    sz_decimals: int
    max_leverage: int
    launch: float
    only_isolated: bool = False


@dataclass(frozen=True)
class Token:
    """One `spotMeta.tokens` entry."""

    name: str
    index: int
    sz_decimals: int
    wei_decimals: int
    token_id: str
    full_name: str | None


@dataclass(frozen=True)
class Pair:
    """One `spotMeta.universe` entry."""

    index: int
    base: int
    quote: int
    launch: float
    canonical: bool

    @property
    def name(self) -> str:
        """Return the /info name of the pair: PURR/USDC for index 0, else @<index>."""
        return "PURR/USDC" if self.index == 0 else f"@{self.index}"


PERPS = (
    Perp("BTC", 5, 40, 0.0),
    Perp("ETH", 4, 25, 0.0),
    Perp("SOL", 2, 20, 0.0),
    Perp("HYPE", 2, 10, HYPE_LAUNCH),
)
TOKENS = (
    Token("USDC", 0, 8, 8, "0x6d1e7cde53ba9467b783cb7c530ce054", None),
    Token("PURR", 1, 0, 5, "0xc1fb593aeffbeb02f85e0308e9956a90", "Purr"),
    Token("HYPE", 150, 2, 8, "0x0d01dc56dcaaca66ad901c959b4011ec", "Hyperliquid"),
)
PAIRS = (Pair(0, 1, 0, 0.0, True), Pair(107, 150, 0, HYPE_LAUNCH, False))
TOKEN_BY_INDEX = {t.index: t for t in TOKENS}


@dataclass(frozen=True)
class Asset:
    """A tradable asset: its id, /info name, engine instrument key and price/size rules."""

    asset: int
    coin: str  # the /info name: BTC, PURR/USDC, @107
    underlying: str
    sz_decimals: int
    spot: bool
    max_leverage: int
    tick: Decimal  # the engine's price step (the 5-significant-figure step at the anchor)

    @property
    def lot(self) -> Decimal:
        """Return the size step."""
        return Decimal(1).scaleb(-self.sz_decimals)

    @property
    def max_price_decimals(self) -> int:
        """Return how many decimals a price may have."""
        return (MAX_DECIMALS_SPOT if self.spot else MAX_DECIMALS_PERP) - self.sz_decimals


def five_sig_tick(price: float, max_decimals: int) -> Decimal:
    """Return the price step of 5 significant figures at `price`, at most 1 and at least 10^-max_decimals."""
    exp = math.floor(math.log10(price)) - 4
    exp = min(max(exp, -max_decimals), 0)
    return Decimal(1).scaleb(exp)


def price_valid(px: Decimal, asset: Asset) -> bool:
    """Return whether a price fits the venue's rule (≤ 5 significant figures and ≤ max decimals, or an integer)."""
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    norm = px.normalize()
    _, digits, exp = norm.as_tuple()
    assert isinstance(exp, int)
    decimals = -exp if exp < 0 else 0
    return len(digits) <= 5 and decimals <= asset.max_price_decimals


class HyperliquidMarket:
    """The assets listed at a time, over one seeded `MarketModel`."""

    def __init__(self, seed: int, now: float) -> None:
        """Register every underlying and every asset (listing is checked against the clock on use)."""
        anchor = math.floor(now / DAY) * DAY
        self.model = MarketModel(
            seed, [Underlying(c.name, c.price, vol=c.vol, anchor=anchor, volume=c.volume) for c in COINS.values()]
        )
        self.assets: dict[int, Asset] = {}
        self.by_coin: dict[str, Asset] = {}
        self.launch: dict[int, float] = {}
        for i, p in enumerate(PERPS):
            tick = five_sig_tick(COINS[p.name].price, MAX_DECIMALS_PERP - p.sz_decimals)
            asset = Asset(i, p.name, p.name, p.sz_decimals, False, p.max_leverage, tick)
            self.model.add_instrument(
                Instrument.perpetual(p.name, p.name, str(tick), str(asset.lot), funding_interval=HOUR,
                                     quote_currency="USDC", taker_fee=TAKER_FEE, maker_fee=MAKER_FEE,
                                     spread_bps=0.3, level_step_bps=0.3, depth_notional=300_000.0)
            )  # fmt: skip
            self._add(asset, p.launch)
        for pair in PAIRS:
            base = TOKEN_BY_INDEX[pair.base]
            tick = five_sig_tick(COINS[base.name].price, MAX_DECIMALS_SPOT - base.sz_decimals)
            asset = Asset(SPOT_OFFSET + pair.index, pair.name, base.name, base.sz_decimals, True, 1, tick)
            self.model.add_instrument(
                Instrument.spot(pair.name, base.name, str(tick), str(asset.lot), quote_currency="USDC",
                                taker_fee=SPOT_TAKER_FEE, maker_fee=SPOT_MAKER_FEE, depth_notional=100_000.0)
            )  # fmt: skip
            self._add(asset, pair.launch)

    def _add(self, asset: Asset, launch: float) -> None:
        self.assets[asset.asset] = asset
        self.by_coin[asset.coin] = asset
        self.launch[asset.asset] = launch

    def listed(self, asset: Asset, now: float) -> bool:
        """Return whether the asset trades at `now`."""
        return self.launch[asset.asset] <= now

    def perps(self, now: float) -> list[Asset]:
        """Return the listed perpetuals in universe order."""
        return [a for a in self.assets.values() if not a.spot and self.listed(a, now)]

    def pairs(self, now: float) -> list[tuple[Pair, Asset]]:
        """Return the listed spot pairs with their assets."""
        return [(p, self.assets[SPOT_OFFSET + p.index]) for p in PAIRS if p.launch <= now]

    def asset(self, asset_id: int, now: float) -> Asset | None:
        """Return a listed asset by id, or None."""
        a = self.assets.get(asset_id)
        return a if a is not None and self.listed(a, now) else None

    def coin(self, name: str, now: float) -> Asset | None:
        """Return a listed asset by /info name, or None."""
        a = self.by_coin.get(name)
        return a if a is not None and self.listed(a, now) else None

    def mid(self, asset: Asset, t: float) -> float:
        """Return the model mid of the asset at `t`."""
        return self.model.mid(asset.coin, t)
