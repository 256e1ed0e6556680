using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Viper.Backends.Cpu;

/// <summary>
/// Worker threads for the CPU backend's loops, as llama.cpp's thread pool: between loops they spin for a while
/// (<see cref="SpinTicks"/>) instead of sleeping, so the next op's items start on every core at once. A decode step
/// is about sixty ops of 10–300 µs; through the .NET thread pool a worker that had gone to sleep between two of them
/// woke tens of microseconds into the next (on a virtual machine the halted vCPU is rescheduled first), and the caller
/// ran those items alone. Items are taken one at a time from one shared counter, so no thread finishes more than one
/// item after another (Parallel.For hands out growing runs of up to 16 items, and with two threads and a GEMV's 64
/// the last run left one thread alone with up to a quarter of the matrix). Which thread runs an item never changes
/// what it computes. One set of workers per thread count, for the process (background threads, asleep when idle),
/// running one loop at a time: a loop started while another runs (from inside an item, or by a second backend on
/// another thread) goes to Parallel.For.
/// </summary>
internal sealed class SpinningWorkers
{
    /// <summary>How long an idle worker spins before it sleeps: longer than the gaps between a step's ops, short enough that an idle backend soon leaves its cores alone.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 500; // 2 ms

    private static readonly ConcurrentDictionary<int, SpinningWorkers> ByThreads = new();

    private readonly object _gate = new();
    private readonly int _workers;
    private readonly ParallelOptions _fallback;
    private Loop? _current;
    private long _generation;
    private int _busy;
    private int _sleepers;

    private SpinningWorkers(int threads)
    {
        _fallback = new ParallelOptions { MaxDegreeOfParallelism = threads };
        _workers = threads - 1;
        for (int i = 0; i < _workers; i++)
        {
            new Thread(Work) { IsBackground = true, Name = $"viper-cpu-{threads}-{i + 1}" }.Start();
        }
    }

    /// <summary>The workers for loops on <paramref name="threads"/> threads (the caller and threads − 1 workers).</summary>
    public static SpinningWorkers For(int threads) => ByThreads.GetOrAdd(threads, static t => new SpinningWorkers(t));

    /// <summary>body(i) for every i in [0, count), on the caller and the workers; the first exception is rethrown once every started item has ended.</summary>
    public void Run(int count, Action<int> body)
    {
        if (count <= 1 || _workers == 0)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            Parallel.For(0, count, _fallback, body);
            return;
        }

        try
        {
            var loop = new Loop(body, count);
            Volatile.Write(ref _current, loop);
            Interlocked.Increment(ref _generation); // publishes the loop (a full fence)
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_gate)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            loop.TakeItems();
            var spin = default(SpinWait);
            while (Volatile.Read(ref loop.Ended) < count)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            Volatile.Write(ref _current, null); // the workers need not keep the op's closure (and what it holds) alive until the next loop

            loop.Failure?.Throw();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void Work()
    {
        long seen = Volatile.Read(ref _generation);
        while (true)
        {
            seen = AwaitLoop(seen);
            Volatile.Read(ref _current)?.TakeItems(); // a loop that already ended has no items left to take
        }
    }

    /// <summary>Spins until a loop after <paramref name="seen"/> is published, then sleeps until one is; returns its generation.</summary>
    private long AwaitLoop(long seen)
    {
        long until = Stopwatch.GetTimestamp() + SpinTicks;
        var spin = default(SpinWait);
        for (int i = 0; ; i++)
        {
            long generation = Volatile.Read(ref _generation);
            if (generation != seen)
            {
                return generation;
            }

            if ((i & 63) == 63 && Stopwatch.GetTimestamp() > until)
            {
                break;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        // Run raises the generation before it reads the sleeper count, and this raises the count before it reads the
        // generation again under the lock (both interlocked, full fences): either Run pulses or this sees the new loop.
        Interlocked.Increment(ref _sleepers);
        try
        {
            lock (_gate)
            {
                long generation;
                while ((generation = Volatile.Read(ref _generation)) == seen)
                {
                    Monitor.Wait(_gate);
                }

                return generation;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _sleepers);
        }
    }

    /// <summary>One loop: its items, the next one to take, and how many have ended (run, or dropped after a failure).</summary>
    private sealed class Loop(Action<int> body, int count)
    {
        public int Ended;
        public ExceptionDispatchInfo? Failure;
        private int _next = -1;

        public void TakeItems()
        {
            for (int i = Interlocked.Increment(ref _next); i < count; i = Interlocked.Increment(ref _next))
            {
                try
                {
                    body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Failure, ExceptionDispatchInfo.Capture(e), null);
                    int taken = Interlocked.Exchange(ref _next, count); // no one starts another item
                    Interlocked.Add(ref Ended, Math.Max(0, count - 1 - taken)); // the items no one will start
                }

                Interlocked.Increment(ref Ended);
            }
        }
    }
}
