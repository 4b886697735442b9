using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// Workers a send was refused to: they have not read what they were sent (their high-water mark, or
/// <see cref="Transport.TransportOptions.MaxPendingBytesPerPeer"/>), or their connection went before the broker heard.
/// What was refused never left (ZeroMQ takes a message whole or not at all): it goes back to the front of its queue,
/// whatever its handler's kind, and the worker gets nothing new until the next tick, when it is tried again. A healthy
/// worker sent large requests back to back is so only slowed. One refused for a whole liveness period without a send
/// taken is dropped, as a silent one is: a worker that never reads holds its requests and costs a refused send a tick
/// no longer than that. Loop thread only.
/// </summary>
internal sealed class WorkerBacklog(WorkerSender sender, ServiceTable services, TimeProvider clock, long livenessTicks, ILogger logger)
{
    private readonly HashSet<WorkerPeer> _waiting = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<BrokerService> _requeuedFor = new(ReferenceEqualityComparer.Instance);
    private readonly List<BrokerService> _scratch = [];
    private long _logged;
    private long _tick;

    /// <summary>
    /// A send to <paramref name="peer"/> was refused: its <see cref="WorkerSender.Unsent"/> requests go back, and it
    /// waits. The services they went back to are dispatched at the end of the turn (<see cref="DispatchRequeued"/>), not
    /// here: one refusal does not nest the next.
    /// </summary>
    public void Refused(WorkerPeer peer)
    {
        var now = clock.GetTimestamp();
        // Refused at this tick or the one before: the same run of refusals; after a gap (nothing tried), a new one.
        if (peer.BehindSince == 0 || peer.LastRefusedTick < _tick - 1)
        {
            peer.BehindSince = now;
        }

        peer.LastRefusedTick = _tick;
        peer.Backlogged = true;
        _waiting.Add(peer);
        var requeued = RequeueUnsent(peer, _requeuedFor);
        if (_logged == 0 || now - _logged >= clock.TimestampFrequency)
        {
            _logged = now; // a worker that stays behind is refused once a tick: a line once a second at most
            BrokerLog.WorkerBehind(logger, peer.Name, requeued);
        }
    }

    /// <summary>Offers what refusals put back to the other workers of those services. True when there was any.</summary>
    public bool DispatchRequeued()
    {
        if (_requeuedFor.Count == 0)
        {
            return false;
        }

        _scratch.AddRange(_requeuedFor);
        _requeuedFor.Clear();
        foreach (var service in _scratch)
        {
            services.Dispatch(service);
        }

        _scratch.Clear();
        return true;
    }

    /// <summary>
    /// The tick: the waiting workers may be sent requests again, each of their services dispatched once; those refused
    /// for a liveness period or more are returned instead, for the caller to drop.
    /// </summary>
    public List<WorkerPeer>? RetryAll()
    {
        _tick++;
        if (_waiting.Count == 0)
        {
            return null;
        }

        var now = clock.GetTimestamp();
        List<WorkerPeer>? stuck = null;
        foreach (var peer in _waiting)
        {
            if (peer.Removed)
            {
                continue;
            }

            if (peer.BehindSince != 0 && now - peer.BehindSince >= livenessTicks)
            {
                (stuck ??= []).Add(peer); // stays marked: it gets nothing before it is dropped
                continue;
            }

            peer.Backlogged = false;
            foreach (var worker in peer.Registrations)
            {
                _requeuedFor.Add(worker.Service);
            }
        }

        _waiting.Clear();
        DispatchRequeued();
        return stuck;
    }

    /// <summary>
    /// Puts the <see cref="WorkerSender.Unsent"/> requests that <paramref name="peer"/> still holds as they were refused
    /// back at the front of their queues, the oldest first in line, and adds their services to
    /// <paramref name="touched"/>. Returns how many went back.
    /// </summary>
    public int RequeueUnsent(WorkerPeer peer, HashSet<BrokerService>? touched = null)
    {
        var unsent = sender.Unsent;
        unsent.Sort(static (a, b) => b.Token.CompareTo(a.Token)); // AddFirst, newest first: the oldest ends in front
        var requeued = 0;
        foreach (var (request, token) in unsent)
        {
            // Still the same request, held by the worker it was refused to (a request object is reused once done, and
            // one the worker answered 503 before its batch left may be another worker's by now).
            if (request.Token == token && request.Holder is { } holder && ReferenceEquals(holder.Peer, peer)
                && holder.Outstanding.TryGetValue(token, out var held) && ReferenceEquals(held, request))
            {
                holder.Outstanding.Remove(token);
                request.Holder = null;
                touched?.Add(request.Service); // first: a request its caller cancelled is retired, not requeued
                if (services.Requeue(request))
                {
                    requeued++;
                }
            }
        }

        unsent.Clear();
        return requeued;
    }
}
