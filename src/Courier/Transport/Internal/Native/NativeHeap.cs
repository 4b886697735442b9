using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// How much native memory the process holds: where libzmq keeps every message it holds. The resident set (what a
/// container's limit counts), but no more than malloc has handed out and not had back (glibc's mallinfo2): memory freed
/// goes back to malloc's free lists, not always to the kernel, and the resident set alone would stay high after an attack
/// ends; and malloc's count alone would take in large allocations never touched (libzmq allocates a long frame's whole
/// announced size before its bytes arrive).
/// </summary>
internal static unsafe class NativeHeap
{
    private static readonly delegate* unmanaged<MallInfo2> MallInfo2Function = (delegate* unmanaged<MallInfo2>)Find("mallinfo2");
    private static readonly delegate* unmanaged<nuint, int> MallocTrimFunction = (delegate* unmanaged<nuint, int>)Find("malloc_trim");

    /// <summary>Whether malloc's count is known here (glibc 2.33 or later; not musl).</summary>
    public static bool IsAvailable => MallInfo2Function is not null;

    /// <summary>
    /// The native memory held: the resident set, or malloc's count where that is smaller and the resident set is at least
    /// <paramref name="worthCounting"/> (mallinfo2 walks malloc's free lists: milliseconds in a fragmented heap).
    /// </summary>
    public static long Held(long worthCounting)
    {
        var resident = Resident();
        if (resident < worthCounting || MallInfo2Function is null)
        {
            return resident;
        }

        return Math.Min(resident, InUse());
    }

    /// <summary>The resident set (/proc/self/statm), or 0 where it cannot be read.</summary>
    public static long Resident()
    {
        try
        {
            var statm = File.ReadAllText("/proc/self/statm");
            var start = statm.IndexOf(' ', StringComparison.Ordinal) + 1;
            var end = statm.IndexOf(' ', start);
            return start > 0 && end > start && long.TryParse(statm.AsSpan(start, end - start), System.Globalization.CultureInfo.InvariantCulture, out var pages)
                ? pages * Environment.SystemPageSize
                : 0;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Bytes malloc has handed out now, or -1 where <see cref="IsAvailable"/> is false.</summary>
    public static long InUse()
    {
        if (MallInfo2Function is null)
        {
            return -1;
        }

        var info = MallInfo2Function();
        return (long)(info.AllocatedInArenas + info.Mmapped);
    }

    /// <summary>
    /// Gives the kernel back the free memory malloc keeps (glibc's malloc_trim): what an attack made libzmq allocate stays
    /// in malloc's free lists once freed, and in the resident set, which a container's memory limit counts.
    /// </summary>
    public static void Trim()
    {
        if (MallocTrimFunction is not null)
        {
            _ = MallocTrimFunction(0);
        }
    }

    private static void* Find(string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, name, out var address)
                ? (void*)address
                : null;
        }
        catch (BadImageFormatException)
        {
            return null;
        }
    }

    /// <summary>struct mallinfo2: ten size_t counters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo2
    {
        private readonly nuint _arena;
        private readonly nuint _ordinaryBlocks;
        private readonly nuint _smallBlocks;
        private readonly nuint _mmappedBlocks;
        public readonly nuint Mmapped;
        private readonly nuint _unused;
        private readonly nuint _fastBinBytes;
        public readonly nuint AllocatedInArenas;
        private readonly nuint _free;
        private readonly nuint _releasable;
    }
}
