using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// Workers' answers coming in: one REPLY (7/MDP or Courier's one-frame header), or a batch; each settled against the
/// request its worker holds (delivered, failed, or given back to its queue), late ones from workers given up
/// delivered to requests still waiting for them. Owns the buffers of the message being read. Loop thread only.
/// </summary>
internal sealed class WorkerReplies(WorkerRegistry registry, ServiceTable services, TimeProvider clock)
{
    private readonly List<ReadOnlyMemory<byte>> _replyBody = [];
    private readonly List<(BrokerRequest Request, ulong Token)> _bounced = [];
    private readonly HashSet<BrokerService> _bouncedServices = [];

    /// <summary>
    /// A Courier worker's REPLY: <c>id, "CURW02"+0x03+token+status, body…</c>. Read in place from the receive buffer
    /// and forwarded from there: the broker's hottest path allocates nothing.
    /// </summary>
    public void OnCourierReply(MessageFrames message, bool courier5 = false)
    {
        var header = message[1];
        if (Known(message, courierOnly: true, header[7..15]) is not { } peer)
        {
            return;
        }

        ReadOnlySpan<byte> headers = default;
        if (courier5)
        {
            // "CURW05"+0x03+token+status+headers: the headers go to the client as they came, once checked.
            headers = header[CourierWorkerFrame5.ReplyFixedLength..];
            if (!peer.Delivery || HeaderBlock.Check(headers) is not null)
            {
                registry.Violation(peer.Identity, peer, peer.Delivery ? "a REPLY with invalid headers" : "a courier/5 REPLY from a worker that registered before courier/5");
                return;
            }
        }

        var body = _replyBody;
        body.Clear();
        for (var i = 2; i < message.Count; i++)
        {
            body.Add(message.Memory(i));
        }

        SettleAlone(peer, BinaryPrimitives.ReadUInt64BigEndian(header[7..]), StatusFrames.Parse(header.Slice(15, 3)), headers);
    }

    /// <summary>A worker's batch of REPLYs (docs/protocol.md §6), read in place like <see cref="OnCourierReply"/>.</summary>
    public void OnReplyBatch(MessageFrames message)
    {
        if (Known(message, courierOnly: false, batch: true) is not { } peer)
        {
            return;
        }

        if (!peer.Batches)
        {
            registry.Violation(peer.Identity, peer, "a batch from a worker that did not register for batches");
            return;
        }

        var frame = message.Memory(1);
        var reader = new BatchReader(frame.Span);
        var body = _replyBody;
        try
        {
            while (reader.TryRead(out var record))
            {
                body.Clear();
                body.Add(frame.Slice(record.BodyOffset, record.Body.Length));
                Settle(peer, record.Id, StatusFrames.Parse(record.Tag), CollectionsMarshal.AsSpan(body));
                if (peer.Removed)
                {
                    break; // removed for a violation: the rest of its batch is void
                }
            }
        }
        finally
        {
            // Whatever a record's settling threw, the requests the batch refused go back to their queues.
            body.Clear();
            RequeueBounced();
        }

        if (reader.Malformed && !peer.Removed)
        {
            registry.Violation(peer.Identity, peer, "a batch with a malformed record");
        }
    }

    public void OnReply(byte[] identity, WorkerPeer? peer, List<byte[]> frames)
    {
        if (peer is null)
        {
            if (frames.Count >= 6 && frames[4].Length == 8 && frames[5].Length == 0)
            {
                // A stalled worker's late reply in 7/MDP form: delivered if its request still waits for it.
                services.LateMdpReply(BinaryPrimitives.ReadUInt64BigEndian(frames[4]), identity, frames[6..]);
            }

            registry.NotRegistered(identity, "a REPLY");
            return;
        }

        if (frames.Count < 6 || frames[4].Length != 8 || frames[5].Length != 0)
        {
            registry.Violation(identity, peer, "REPLY without an 8-byte request token and empty delimiter");
            return;
        }

        var token = BinaryPrimitives.ReadUInt64BigEndian(frames[4]);
        // A stock worker's body passes through as is; a Courier worker's starts with its status.
        var status = !peer.Courier ? CourierStatus.Ok : frames.Count > 6 ? StatusFrames.Parse(frames[6]) : -1;
        var body = _replyBody;
        body.Clear();
        for (var i = peer.Courier ? 7 : 6; i < frames.Count; i++)
        {
            body.Add(frames[i]);
        }

        SettleAlone(peer, token, status);
    }

    /// <summary>
    /// <see cref="Settle"/> for a message of one REPLY, whose body is in <see cref="_replyBody"/>: the body is let go and a
    /// refused request goes back to its queue whatever settling threw.
    /// </summary>
    private void SettleAlone(WorkerPeer peer, ulong token, int status, ReadOnlySpan<byte> headers = default)
    {
        try
        {
            Settle(peer, token, status, CollectionsMarshal.AsSpan(_replyBody), headers);
        }
        finally
        {
            _replyBody.Clear(); // holds nothing of the receive buffer past this message
            RequeueBounced();
        }
    }

    /// <summary>
    /// The registered worker that sent <paramref name="message"/>, or null after telling it to register again. A worker
    /// the broker gave up (it stalled) may be answering late: its answers first go to the requests still waiting for
    /// them, every record when <paramref name="batch"/>, else the one REPLY that <paramref name="lateToken"/> names.
    /// </summary>
    private WorkerPeer? Known(MessageFrames message, bool courierOnly, ReadOnlySpan<byte> lateToken = default, bool batch = false)
    {
        if (!registry.TryFind(message[0], out var peer))
        {
            if (batch)
            {
                DeliverLateBatch(message);
            }
            else if (lateToken.Length == 8)
            {
                DeliverLateReply(message, lateToken);
            }

            registry.NotRegistered(message.ToArray(0), "a REPLY");
            return null;
        }

        peer.LastSeen = clock.GetTimestamp();
        if (courierOnly && !peer.Courier)
        {
            registry.Violation(peer.Identity, peer, "Courier REPLY from a worker that registered as plain 7/MDP");
            return null;
        }

        return peer;
    }

    private void DeliverLateReply(MessageFrames message, ReadOnlySpan<byte> lateToken)
    {
        var header = message[1];
        var headers = header.Length > CourierWorkerFrame.ReplyLength && CourierWorkerFrame5.Is(header, MdpWorker.Reply) ? header[CourierWorkerFrame5.ReplyFixedLength..] : default;
        var body = _replyBody;
        body.Clear();
        for (var i = 2; i < message.Count; i++)
        {
            body.Add(message.Memory(i));
        }

        services.LateReply(BinaryPrimitives.ReadUInt64BigEndian(lateToken), message[0], StatusFrames.Parse(header.Slice(15, 3)), CollectionsMarshal.AsSpan(body),
            HeaderBlock.Check(headers) is null ? headers : default);
        body.Clear();
    }

    private void DeliverLateBatch(MessageFrames message)
    {
        var late = message.Memory(1);
        var records = new BatchReader(late.Span);
        var body = _replyBody;
        while (records.TryRead(out var record))
        {
            body.Clear();
            body.Add(late.Slice(record.BodyOffset, record.Body.Length));
            services.LateReply(record.Id, message[0], StatusFrames.Parse(record.Tag), CollectionsMarshal.AsSpan(body), default);
        }

        body.Clear();
    }

    /// <summary>Hands a worker's answer to request <paramref name="token"/> on: its body, or the error it reports.</summary>
    private void Settle(WorkerPeer peer, ulong token, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers = default)
    {
        if (!peer.TryTake(token, out var worker, out var request))
        {
            if (services.LateReply(token, peer.Identity, status, body, headers))
            {
                return; // an orphan's late reply on a connection that re-registered
            }

            registry.Violation(peer.Identity, peer, "REPLY for a request it does not hold");
            return;
        }

        worker.Served++;
        if (status is < 100 or > 599)
        {
            status = CourierStatus.ServerError; // not a status a client can read: the worker failed
        }

        request.Holder = null;
        // A worker that registered before courier/6 says "full" with a 503 too (handlers of a connection it lost still
        // run): taken for stopping, it would get nothing more while it lives. Its stopping 503 says so in its message.
        var full = status == CourierStatus.TooManyRequests
            || (status == CourierStatus.Unavailable && !peer.SaysDrained && !MdpWorker.SaysStopping(body));
        if (!full && worker.Room < worker.Capacity)
        {
            worker.Room++; // it answered: it may have room for one more than it was given since its 429
        }

        if (status == CourierStatus.Ok)
        {
            services.Reply(request, body, headers, remember: !ServiceTable.MayRunAgain(worker, request));
        }
        else if (full)
        {
            // The worker holds all it can of this service, though the broker counted room (handlers of a connection it
            // lost still run): the request never ran. Back to its queue once the whole message is read, in order; its
            // room is what it holds now.
            worker.Served--;
            worker.Room = worker.Outstanding.Count;
            _bounced.Add((request, token));
        }
        else if (status == CourierStatus.Unavailable || (status == CourierStatus.OutcomeUnknown && ServiceTable.MayRunAgain(worker, request)))
        {
            // The worker is stopping: the request was not run (or was cut short by the stop, and may run again); give it
            // to another worker, and none of its services new ones (a worker stops as a whole).
            worker.Served--;
            peer.Draining = true;
            services.Requeue(request);
        }
        else
        {
            services.Fail(request, status < 0 ? CourierStatus.ServerError : status, ServiceTable.ErrorMessage(body), ran: !ServiceTable.MayRunAgain(worker, request));
        }

        services.Dispatch(worker.Service);
    }

    /// <summary>
    /// The requests workers answered 429 in the message just read go back to the front of their queues in the order they
    /// were given out (the oldest first in line), and are offered to the workers with room.
    /// </summary>
    private void RequeueBounced()
    {
        if (_bounced.Count == 0)
        {
            return;
        }

        _bounced.Sort(static (a, b) => b.Token.CompareTo(a.Token)); // AddFirst, newest first: the oldest ends in front
        // Their services first: a request its caller cancelled meanwhile is retired (and cleared), not requeued.
        _bouncedServices.Clear();
        foreach (var (request, _) in _bounced)
        {
            _bouncedServices.Add(request.Service);
            services.Requeue(request);
        }

        foreach (var service in _bouncedServices)
        {
            services.Dispatch(service);
        }

        _bounced.Clear();
    }
}
