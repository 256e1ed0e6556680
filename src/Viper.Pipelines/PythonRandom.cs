namespace Viper.Pipelines;

/// <summary>
/// Python's <c>random.seed(n)</c> + <c>random.shuffle</c> (CPython's _randommodule.c init_by_array and
/// Random._randbelow_with_getrandbits), so the reference form's seeded shuffle of the attribute lists is the one the
/// authors' Python code makes for the same seed.
/// </summary>
public sealed class PythonRandom
{
    private readonly uint[] _mt = new uint[624];
    private int _index = 624;

    public PythonRandom(ulong seed)
    {
        InitGenrand(19650218u);
        uint[] key = seed == 0 ? [0u] : seed <= uint.MaxValue ? [(uint)seed] : [(uint)seed, (uint)(seed >> 32)];
        int i = 1, j = 0;
        for (int k = Math.Max(624, key.Length); k > 0; k--)
        {
            _mt[i] = (_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j;
            i++;
            j++;
            if (i >= 624)
            {
                _mt[0] = _mt[623];
                i = 1;
            }

            if (j >= key.Length)
            {
                j = 0;
            }
        }

        for (int k = 623; k > 0; k--)
        {
            _mt[i] = (_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1566083941u)) - (uint)i;
            i++;
            if (i >= 624)
            {
                _mt[0] = _mt[623];
                i = 1;
            }
        }

        _mt[0] = 0x80000000u;
    }

    /// <summary>random.shuffle(items) in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = RandBelow(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private int RandBelow(int n)
    {
        int bits = 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n);
        uint r = NextUInt32() >> (32 - bits);
        while (r >= n)
        {
            r = NextUInt32() >> (32 - bits);
        }

        return (int)r;
    }

    private void InitGenrand(uint s)
    {
        _mt[0] = s;
        for (int i = 1; i < 624; i++)
        {
            _mt[i] = (1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30))) + (uint)i;
        }
    }

    private uint NextUInt32()
    {
        if (_index >= 624)
        {
            for (int k = 0; k < 624; k++)
            {
                uint y = (_mt[k] & 0x80000000u) | (_mt[(k + 1) % 624] & 0x7fffffffu);
                _mt[k] = _mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }

            _index = 0;
        }

        uint v = _mt[_index++];
        v ^= v >> 11;
        v ^= (v << 7) & 0x9d2c5680u;
        v ^= (v << 15) & 0xefc60000u;
        v ^= v >> 18;
        return v;
    }
}
