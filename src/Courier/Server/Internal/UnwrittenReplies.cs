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
    /// <paramref name="limit"/> (real time, as a stop's other waits: this is about the transport's I/O), or until
    /// <paramref name="cancellationToken"/> (the stop's) fires.
    /// </summary>
    public static async Task WaitAsync(ITransportLoop loop, Func<long> largestPending, TimeSpan limit, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < limit && !cancellationToken.IsCancellationRequested)
        {
            var pending = loop.ReadAsync(largestPending);
            // A loop that has stopped answering (it never should) must not hold the stop beyond its limit.
            var read = await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false);
            if (read != pending)
            {
                return;
            }

            if (pending.Result == 0)
            {
                await GraceAsync(limit - Stopwatch.GetElapsedTime(started), cancellationToken).ConfigureAwait(false);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How long the socket stays open, reading and writing, once the count reads zero. With the count alone, one full
    /// managed test run in four still lost 4 of 300 replies. Two causes are possible, both lasting a moment, and which
    /// one it was is not known: the count comes down when the transport is done with a message's buffer, which may be
    /// before the last bytes are out (NetMQ copies a message's tail into its own batch buffer); and a peer's message (a
    /// ZMTP ping) arriving after the socket stopped reading turns the close into a TCP reset, which discards what the peer
    /// had received and not yet read.
    /// </summary>
    public static readonly TimeSpan CloseGrace = TimeSpan.FromMilliseconds(200);

    private static async Task GraceAsync(TimeSpan remaining, CancellationToken cancellationToken)
    {
        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await Task.Delay(remaining < CloseGrace ? remaining : CloseGrace, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The stop's caller stopped waiting: close now.
        }
    }
}
