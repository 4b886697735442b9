using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// Workers a send was refused to: they have not read what they were sent (their high-water mark, or
/// <see cref="Transport.TransportOptions.MaxPendingBytesPerPeer"/>), or their connection went before the broker heard.
/// What was refused never left (ZeroMQ takes a message whole or not at all): it goes back to the front of its queue,
/// whatever its handler's kind, and the worker gets nothing new until the next tick, when it is tried again. A healthy
/// worker sent large requests back to back is so only slowed; one that is gone or stopped reading keeps what it holds
/// until its dropped connection or its silence removes it (a live connection that never reads keeps it until its
/// callers' timeouts). Loop thread only.
/// </summary>
internal sealed class WorkerBacklog(WorkerSender sender, ServiceTable services, TimeProvider clock, ILogger logger)
{
    private readonly HashSet<WorkerPeer> _waiting = new(ReferenceEqualityComparer.Instance);
    private long _logged;

    /// <summary>A send to <paramref name="peer"/> was refused: its <see cref="WorkerSender.Unsent"/> requests go back, and it waits.</summary>
    public void Refused(WorkerPeer peer)
    {
        var unsent = sender.Unsent;
        peer.Backlogged = true;
        _waiting.Add(peer);
        var requeued = 0;
        foreach (var worker in peer.Registrations)
        {
            foreach (var token in unsent)
            {
                if (worker.Outstanding.Remove(token, out var request))
                {
                    request.Holder = null;
                    ServiceTable.Requeue(request);
                    requeued++;
                }
            }
        }

        unsent.Clear();
        var now = clock.GetTimestamp();
        if (_logged == 0 || now - _logged >= clock.TimestampFrequency)
        {
            _logged = now; // a worker that stays behind is refused once a tick: a line once a second at most
            BrokerLog.WorkerBehind(logger, peer.Name, requeued);
        }

        // Other workers of its services may take what went back.
        foreach (var worker in peer.Registrations)
        {
            services.Dispatch(worker.Service);
        }
    }

    /// <summary>The tick: every waiting worker may be sent requests again.</summary>
    public void RetryAll()
    {
        if (_waiting.Count == 0)
        {
            return;
        }

        var retry = _waiting.ToArray();
        _waiting.Clear();
        foreach (var peer in retry)
        {
            peer.Backlogged = false;
        }

        foreach (var peer in retry)
        {
            foreach (var worker in peer.Removed ? [] : peer.Registrations)
            {
                services.Dispatch(worker.Service);
            }
        }
    }
}
