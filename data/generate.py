"""Make the bundled demo data: `python data/generate.py` writes data/deals.csv (seeded, reproducible).

The story a CRO can discover in it: referrals and partners win more often, outbound and long
cycles less, and APAC's win rate falls sharply from 2024Q2; everything else is ordinary noise.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.synthetic import demo_spec, generate_deals, write_csv  # noqa: E402

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "deals.csv"
    frame = generate_deals(demo_spec())
    write_csv(frame, out)
    print(f"wrote {len(frame):,} deals ({(frame['outcome'] != '').sum():,} closed) to {out}")
