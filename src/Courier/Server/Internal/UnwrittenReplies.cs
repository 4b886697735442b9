using System.Diagnostics;
using Courier.Transport.Internal;

namespace Courier.Server.Internal;

/// <summary>
/// The last step of a server's graceful stop before its socket closes: waiting until the transport has written the large
/// replies it was handed. A socket's linger keeps the rest only a second after it closes, and a client reading slowly (or
/// a slow machine) then lost replies that had been sent: 34 of 300 replies of 64 KiB on the managed transport
/// (StopFlushTests). Messages under <see cref="PendingBytes.TrackedMinimum"/> are not counted. (A worker does more: it asks
/// its broker, <see cref="Worker.Internal.WorkerEngine.ConfirmRead"/>.)
/// </summary>
internal static class UnwrittenReplies
{
    /// <summary>
    /// Polls <paramref name="largestPending"/> on <paramref name="loop"/> until it reads zero, for at most
    /// <paramref name="limit"/> (real time, as a stop's other waits: this is about the transport's I/O).
    /// </summary>
    public static async Task WaitAsync(ITransportLoop loop, Func<long> largestPending, TimeSpan limit)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < limit)
        {
            var pending = loop.ReadAsync(largestPending);
            // A loop that has stopped answering (it never should) must not hold the stop beyond its limit.
            var read = await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            if (read != pending || pending.Result == 0)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
