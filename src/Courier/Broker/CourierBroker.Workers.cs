using System.Buffers.Binary;
using Courier.Broker.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Broker;

// Loop thread only: the worker side of 7/MDP, heartbeats, and dead workers.
public sealed partial class CourierBroker
{
    private readonly Dictionary<byte[], BrokerWorker> _workers = new(ByteArrayComparer.Instance);
    private readonly long _livenessTicks;
    private readonly long _heartbeatTicks;
    private long _nextHeartbeat;

    private void OnWorkerMessage(List<byte[]> frames)
    {
        var identity = frames[0];
        _workers.TryGetValue(identity, out var worker);
        if (worker is not null)
        {
            worker.LastSeen = _clock.GetTimestamp();
        }

        var command = frames[3].Length == 1 ? frames[3][0] : (byte)0;
        switch (command)
        {
            case MdpWorker.Ready:
                OnReady(identity, worker, frames);
                break;
            case MdpWorker.Reply:
                OnReply(identity, worker, frames);
                break;
            case MdpWorker.Heartbeat:
                if (worker is null)
                {
                    // 7/MDP: a heartbeat from a worker we do not know (say, after a broker restart) gets DISCONNECT,
                    // which tells the worker to reconnect and send READY again.
                    Violation(identity, null, "HEARTBEAT from an unregistered worker");
                }

                break;
            case MdpWorker.Disconnect:
                if (worker is not null)
                {
                    RemoveWorker(worker, "it said DISCONNECT", died: false);
                }

                break;
            default:
                Violation(identity, worker, $"unknown worker command 0x{Convert.ToHexString(frames[3])}");
                break;
        }
    }

    private void OnReady(byte[] identity, BrokerWorker? known, List<byte[]> frames)
    {
        if (known is not null)
        {
            Violation(identity, known, "second READY");
            return;
        }

        var name = frames.Count > 4 ? Mdp.DecodeServiceName(frames[4]) : null;
        if (name is null || name.StartsWith("mmi.", StringComparison.Ordinal))
        {
            Violation(identity, null, "READY without a valid service name");
            return;
        }

        var batches = false;
        var capacity = frames.Count > 5 ? MdpWorker.ParseCapacity(frames[5], out batches) : 0;
        var service = Service(name);
        var worker = new BrokerWorker(identity, service, Math.Max(1, capacity), courier: capacity > 0, batches: batches && capacity > 0, _clock.GetTimestamp());
        _workers.Add(identity, worker);
        service.Workers.Add(worker);
        BrokerLog.WorkerReady(_logger, worker.Id, name, worker.Capacity, worker.Courier ? "Courier" : "7/MDP");
        SendToWorker(worker, MdpWorker.HeartbeatFrame);
        Dispatch(service);
    }

    private void OnReply(byte[] identity, BrokerWorker? worker, List<byte[]> frames)
    {
        if (worker is null)
        {
            Violation(identity, null, "REPLY from an unregistered worker (expired, or from before a restart)");
            return;
        }

        if (frames.Count < 6 || frames[4].Length != 8 || frames[5].Length != 0)
        {
            Violation(identity, worker, "REPLY without an 8-byte request token and empty delimiter");
            return;
        }

        var token = BinaryPrimitives.ReadUInt64BigEndian(frames[4]);
        // A stock worker's body passes through as is; a Courier worker's starts with its status.
        var status = !worker.Courier ? CourierStatus.Ok : frames.Count > 6 ? Mdp.ParseStatus(frames[6]) : -1;
        var body = _replyBody;
        body.Clear();
        for (var i = worker.Courier ? 7 : 6; i < frames.Count; i++)
        {
            body.Add(frames[i]);
        }

        Settle(identity, worker, token, status, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(body));
        body.Clear();
    }

    /// <summary>
    /// A Courier worker's REPLY: <c>id, "CURW02"+0x03+token+status, body…</c>. Read in place from the receive buffer
    /// and forwarded from there: the broker's hottest path allocates nothing.
    /// </summary>
    private void OnCourierReply(MessageFrames message)
    {
        if (!_workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(message[0], out var worker))
        {
            Violation(message.ToArray(0), null, "REPLY from an unregistered worker (expired, or from before a restart)");
            return;
        }

        worker.LastSeen = _clock.GetTimestamp();
        if (!worker.Courier)
        {
            Violation(worker.Identity, worker, "Courier REPLY from a worker that registered as plain 7/MDP");
            return;
        }

        var header = message[1];
        var body = _replyBody;
        body.Clear();
        for (var i = 2; i < message.Count; i++)
        {
            body.Add(message.Memory(i));
        }

        Settle(worker.Identity, worker, BinaryPrimitives.ReadUInt64BigEndian(header[7..]), Mdp.ParseStatus(header[15..]), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(body));
        body.Clear(); // holds nothing of the receive buffer past this message
    }

    /// <summary>A worker's batch of REPLYs (docs/protocol.md §6), read in place like <see cref="OnCourierReply"/>.</summary>
    private void OnReplyBatch(MessageFrames message)
    {
        if (!_workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(message[0], out var worker))
        {
            Violation(message.ToArray(0), null, "REPLY from an unregistered worker (expired, or from before a restart)");
            return;
        }

        worker.LastSeen = _clock.GetTimestamp();
        if (!worker.Batches)
        {
            Violation(worker.Identity, worker, "a batch from a worker that did not register for batches");
            return;
        }

        var frame = message.Memory(1);
        var reader = new BatchReader(frame.Span);
        var body = _replyBody;
        while (reader.TryRead(out var record))
        {
            body.Clear();
            body.Add(frame.Slice(record.BodyOffset, record.Body.Length));
            Settle(worker.Identity, worker, record.Id, Mdp.ParseStatus(record.Tag), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(body));
            if (!_workers.TryGetValue(worker.Identity, out var still) || !ReferenceEquals(still, worker))
            {
                break; // removed for a violation: the rest of its batch is void
            }
        }

        body.Clear();
        if (reader.Malformed && _workers.ContainsKey(worker.Identity))
        {
            Violation(worker.Identity, worker, "a batch with a malformed record");
        }
    }

    /// <summary>Hands a worker's answer to request <paramref name="token"/> on: its body, or the error it reports.</summary>
    private void Settle(byte[] identity, BrokerWorker worker, ulong token, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        if (!worker.Outstanding.Remove(token, out var request))
        {
            Violation(identity, worker, "REPLY for a request it does not hold");
            return;
        }

        worker.Served++;
        if (status == CourierStatus.Ok)
        {
            ReplyToClient(request, body);
            Retire(request);
        }
        else if (status == CourierStatus.Unavailable)
        {
            // The worker is stopping: the request was not run; give it to another worker.
            worker.Served--;
            worker.Draining = true;
            request.Service.Queue.AddFirst(request);
        }
        else
        {
            var message = body.Length > 0 ? System.Text.Encoding.UTF8.GetString(body[0].Span) : "worker reported an error";
            FailClient(request, status < 0 ? CourierStatus.ServerError : status, message);
            Retire(request);
        }

        Dispatch(worker.Service);
    }

    private void OnPeerDisconnected(byte[] identity)
    {
        if (_workers.TryGetValue(identity, out var worker))
        {
            RemoveWorker(worker, "its connection dropped", died: true);
            return;
        }

        // A client that went away (say, a Lazy Pirate reconnect) can no longer receive replies: its waiting requests
        // would only make workers do work nobody reads, and its resends would queue twice.
        foreach (var service in _services.Values)
        {
            for (var request = service.Queue.First; request is not null;)
            {
                var next = request.QueueNext;
                if (request.ClientId.AsSpan().SequenceEqual(identity))
                {
                    service.Queue.Remove(request);
                    Retire(request);
                }

                request = next;
            }
        }
    }

    private void Violation(byte[] identity, BrokerWorker? worker, string reason)
    {
        BrokerLog.Violation(_logger, Convert.ToHexString(identity), reason);
        Send([identity, Mdp.Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame]);
        if (worker is not null)
        {
            RemoveWorker(worker, "protocol violation", died: false);
        }
    }

    /// <summary>Forgets a worker; the requests it held go back to the front of the queue, or fail as poison when they have killed too many.</summary>
    private void RemoveWorker(BrokerWorker worker, string reason, bool died)
    {
        _workers.Remove(worker.Identity);
        worker.Service.Workers.Remove(worker);
        worker.Pending?.Reset(); // what it was about to be sent is in Outstanding, requeued below
        BrokerLog.WorkerGone(_logger, worker.Id, worker.Service.Name, reason, worker.Outstanding.Count);

        // Newest first, so that AddFirst leaves the oldest at the very front.
        foreach (var request in worker.Outstanding.Values.OrderByDescending(r => r.Token))
        {
            if (died && ++request.Deaths >= _options.MaxWorkerDeaths)
            {
                BrokerLog.Poison(_logger, request.Service.Name, request.Deaths);
                FailClient(request, CourierStatus.PoisonRequest, $"request abandoned: {request.Deaths} workers died while handling it");
                Retire(request);
            }
            else
            {
                request.Service.Queue.AddFirst(request);
            }
        }

        worker.Outstanding.Clear();
        Dispatch(worker.Service);
    }

    private void OnTick()
    {
        var now = _clock.GetTimestamp();
        List<BrokerWorker>? expired = null;
        foreach (var worker in _workers.Values)
        {
            if (now - worker.LastSeen > _livenessTicks)
            {
                (expired ??= []).Add(worker);
            }
        }

        foreach (var worker in expired ?? [])
        {
            // Tell it, in case it is only slow: it will then re-register instead of replying into the void.
            Send([worker.Identity, Mdp.Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame]);
            RemoveWorker(worker, "silent past its heartbeat liveness", died: true);
        }

        if (now >= _nextHeartbeat)
        {
            _nextHeartbeat = now + _heartbeatTicks;
            foreach (var worker in _workers.Values)
            {
                SendToWorker(worker, MdpWorker.HeartbeatFrame);
            }
        }

        Flush();
    }
}
