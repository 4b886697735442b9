using System.Runtime.InteropServices;

namespace Courier.Transport.Internal.Native;

/// <summary>
/// Keeps glibc's malloc from handing libzmq's large message buffers back to the kernel after every message. By
/// default glibc serves an allocation over 128 KiB (rising to the largest freed so far) with its own mmap and trims
/// the heap once 2× that lies free at its top: with a few 1 MiB messages in flight each new buffer is fresh pages, and
/// the page faults of filling them were over half the CPU time of a 1 MiB workload (docs/performance.md). From the
/// first native socket on, allocations up to 4 MiB come from the heap and up to 32 MiB of free memory stays at its
/// top, per arena. Process-wide, so it is skipped when the process chose for itself (any <c>MALLOC_*</c> or
/// <c>GLIBC_TUNABLES</c> variable), off glibc, and with the AppContext switch
/// <c>Courier.Transport.TuneMalloc</c> set to false.
/// </summary>
internal static partial class AllocatorTuning
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD
    private static int _applied;

    public static void Apply()
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0 || !ShouldApply())
        {
            return;
        }

        try
        {
            // Best effort: mallopt answers 0 for a value it refuses, and the defaults then stay, which is only slower.
            _ = mallopt(MmapThreshold, 4 << 20);
            _ = mallopt(TrimThreshold, 32 << 20);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc (musl has no mallopt): nothing to tune.
        }
        catch (DllNotFoundException)
        {
        }
    }

    private static bool ShouldApply()
    {
        if (!OperatingSystem.IsLinux() || (AppContext.TryGetSwitch("Courier.Transport.TuneMalloc", out var enabled) && !enabled))
        {
            return false;
        }

        foreach (var name in Environment.GetEnvironmentVariables().Keys)
        {
            if (name is string variable && (variable.StartsWith("MALLOC_", StringComparison.Ordinal) || variable == "GLIBC_TUNABLES"))
            {
                return false;
            }
        }

        return true;
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int parameter, int value);
}
