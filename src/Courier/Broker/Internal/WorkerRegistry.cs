using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Broker.Internal;

/// <summary>
/// The worker side of the broker: registration (7/MDP READY and Courier's capability), requests out and replies in
/// (one at a time, or batched for workers that take batches), heartbeats both ways, and dead workers, whose requests go
/// back to the front of their queue. Loop thread only.
/// </summary>
internal sealed class WorkerRegistry(CourierBrokerOptions options, ITransportSocket socket, ServiceTable services, ILogger logger)
{
    private readonly Dictionary<byte[], BrokerWorker> _workers = new(ByteArrayComparer.Instance);
    private readonly TimeProvider _clock = options.TimeProvider;
    private readonly long _livenessTicks = (long)(options.HeartbeatInterval.TotalSeconds * options.HeartbeatLiveness * options.TimeProvider.TimestampFrequency);
    private readonly long _heartbeatTicks = (long)(options.HeartbeatInterval.TotalSeconds * options.TimeProvider.TimestampFrequency);
    private readonly List<byte[]> _received = [];
    private readonly List<ReadOnlyMemory<byte>> _replyBody = [];
    private readonly List<ReadOnlyMemory<byte>> _outgoing = [];
    private readonly List<BrokerWorker> _workersToFlush = [];

    // Headers are written here rather than allocated per message: both transports copy a frame when it is sent.
    private readonly byte[] _requestHeader = new byte[CourierWorkerFrame.RequestLength];
    private long _nextHeartbeat = options.TimeProvider.GetTimestamp() + (long)(options.HeartbeatInterval.TotalSeconds * options.TimeProvider.TimestampFrequency);

    /// <summary>A 7/MDP worker command: <c>id, "", "MDPW01", command, …</c>, copied into frames of its own.</summary>
    public void OnCommand(MessageFrames message)
    {
        // A known worker's identity is its own array: heartbeats and replies copy no routing id.
        _workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(message[0], out var worker);
        var identity = worker?.Identity ?? message.ToArray(0);
        var frames = _received;
        frames.Clear();
        frames.Add(identity);
        for (var f = 1; f < message.Count; f++)
        {
            frames.Add(message.ToArray(f));
        }

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
                    Remove(worker, "it said DISCONNECT", died: false);
                }

                break;
            default:
                Violation(identity, worker, $"unknown worker command 0x{Convert.ToHexString(frames[3])}");
                break;
        }

        frames.Clear();
    }

    /// <summary>
    /// A Courier worker's REPLY: <c>id, "CURW02"+0x03+token+status, body…</c>. Read in place from the receive buffer
    /// and forwarded from there: the broker's hottest path allocates nothing.
    /// </summary>
    public void OnCourierReply(MessageFrames message)
    {
        if (Known(message, courierOnly: true) is not { } worker)
        {
            return;
        }

        var header = message[1];
        var body = _replyBody;
        body.Clear();
        for (var i = 2; i < message.Count; i++)
        {
            body.Add(message.Memory(i));
        }

        Settle(worker, BinaryPrimitives.ReadUInt64BigEndian(header[7..]), StatusFrames.Parse(header[15..]), CollectionsMarshal.AsSpan(body));
        body.Clear(); // holds nothing of the receive buffer past this message
    }

    /// <summary>A worker's batch of REPLYs (docs/protocol.md §6), read in place like <see cref="OnCourierReply"/>.</summary>
    public void OnReplyBatch(MessageFrames message)
    {
        if (Known(message, courierOnly: false) is not { } worker)
        {
            return;
        }

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
            Settle(worker, record.Id, StatusFrames.Parse(record.Tag), CollectionsMarshal.AsSpan(body));
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

    /// <summary>A peer's connection dropped: true when it was a worker (now removed, its requests requeued).</summary>
    public bool OnDisconnected(ReadOnlySpan<byte> identity)
    {
        if (!_workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(identity, out var worker))
        {
            return false;
        }

        Remove(worker, "its connection dropped", died: true);
        return true;
    }

    /// <summary>Sends (or packs, for a worker that takes batches) <paramref name="request"/> to <paramref name="worker"/>. False when refused.</summary>
    public bool Send(BrokerWorker worker, BrokerRequest request)
    {
        var inbound = request.Inbound;
        // Only what came in a client's batch is packed for the worker, as before: a lone request goes alone.
        if (worker.Batches && inbound.Route.Framing == ClientFraming.CourierBatch && Batch.Fits(1, inbound.Body(0).Length))
        {
            // Packed with whatever else this worker gets before the turn ends (Flush).
            var batch = worker.Pending ??= new BatchWriter(Batch.WorkerRequest);
            if (batch.Count == 0)
            {
                _workersToFlush.Add(worker);
            }

            if (batch.TryAdd(request.Token, default, inbound.Body(0).Span))
            {
                return true;
            }

            // Full: send it now and start the next.
            if (!SendBatch(worker, batch))
            {
                return false;
            }

            batch.TryAdd(request.Token, default, inbound.Body(0).Span);
            return true;
        }

        var frames = _outgoing;
        frames.Clear();
        frames.Add(worker.Identity);
        if (worker.Courier)
        {
            CourierWorkerFrame.WriteRequest(_requestHeader, request.Token);
            frames.Add(_requestHeader);
        }
        else
        {
            frames.Add(Mdp.Empty);
            frames.Add(Mdp.WorkerHeader);
            frames.Add(MdpWorker.RequestFrame);
            frames.Add(request.TokenFrame);
            frames.Add(Mdp.Empty);
        }

        inbound.AddBodyTo(frames);
        var sent = socket.TrySend(CollectionsMarshal.AsSpan(frames));
        frames.Clear();
        return sent;
    }

    /// <summary>
    /// Sends the requests packed for workers this turn. Runs at the end of every turn of the loop, so a batch holds only
    /// what was ready at once and never waits for more.
    /// </summary>
    public void Flush()
    {
        // A refused send makes its worker dead, and its requests may go into other workers' batches: repeat until none.
        while (_workersToFlush.Count > 0)
        {
            var worker = _workersToFlush[^1];
            _workersToFlush.RemoveAt(_workersToFlush.Count - 1);
            if (worker.Pending is { Count: > 0 } batch && !SendBatch(worker, batch))
            {
                Remove(worker, "send refused", died: false);
            }
        }
    }

    /// <summary>Expires silent workers and heartbeats the rest.</summary>
    public void OnTick()
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
            SendCommand(worker.Identity, MdpWorker.DisconnectFrame);
            Remove(worker, "silent past its heartbeat liveness", died: true);
        }

        if (now >= _nextHeartbeat)
        {
            _nextHeartbeat = now + _heartbeatTicks;
            foreach (var worker in _workers.Values)
            {
                SendCommand(worker.Identity, MdpWorker.HeartbeatFrame);
            }
        }
    }

    /// <summary>Forgets a worker; the requests it held go back to the front of the queue, or fail as poison when they have killed too many.</summary>
    public void Remove(BrokerWorker worker, string reason, bool died)
    {
        _workers.Remove(worker.Identity);
        worker.Service.Workers.Remove(worker);
        services.WorkerLeft(worker.Service);
        worker.Pending?.Reset(); // what it was about to be sent is in Outstanding, requeued below
        var requeued = worker.Outstanding.Count;

        // Newest first, so that AddFirst leaves the oldest at the very front.
        foreach (var request in worker.Outstanding.Values.OrderByDescending(r => r.Token))
        {
            if (died && ++request.Deaths >= options.MaxWorkerDeaths)
            {
                BrokerLog.Poison(logger, request.Service.Name, request.Deaths);
                services.Fail(request, CourierStatus.PoisonRequest, $"request abandoned: {request.Deaths} workers died while handling it");
            }
            else
            {
                request.Service.Queue.AddFirst(request);
            }
        }

        worker.Outstanding.Clear();
        BrokerLog.WorkerGone(logger, worker.Id, worker.Service.Name, reason, requeued); // once the state is whole again
        services.Dispatch(worker.Service);
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

        var capability = frames.Count > 5 ? CourierWorkerFrame.ParseCapability(frames[5]) : WorkerCapability.None;
        var service = services.Service(name);
        var worker = new BrokerWorker(identity, service, capability.Capacity, capability.Courier, capability.Batches, _clock.GetTimestamp());
        _workers.Add(identity, worker);
        service.Workers.Add(worker);
        BrokerLog.WorkerReady(logger, worker.Id, name, worker.Capacity, worker.Courier ? "Courier" : "7/MDP");
        SendCommand(identity, MdpWorker.HeartbeatFrame);
        services.Dispatch(service);
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
        var status = !worker.Courier ? CourierStatus.Ok : frames.Count > 6 ? StatusFrames.Parse(frames[6]) : -1;
        var body = _replyBody;
        body.Clear();
        for (var i = worker.Courier ? 7 : 6; i < frames.Count; i++)
        {
            body.Add(frames[i]);
        }

        Settle(worker, token, status, CollectionsMarshal.AsSpan(body));
        body.Clear();
    }

    /// <summary>The registered worker that sent <paramref name="message"/>, or null after answering it as a violation.</summary>
    private BrokerWorker? Known(MessageFrames message, bool courierOnly)
    {
        if (!_workers.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(message[0], out var worker))
        {
            Violation(message.ToArray(0), null, "REPLY from an unregistered worker (expired, or from before a restart)");
            return null;
        }

        worker.LastSeen = _clock.GetTimestamp();
        if (courierOnly && !worker.Courier)
        {
            Violation(worker.Identity, worker, "Courier REPLY from a worker that registered as plain 7/MDP");
            return null;
        }

        return worker;
    }

    /// <summary>Hands a worker's answer to request <paramref name="token"/> on: its body, or the error it reports.</summary>
    private void Settle(BrokerWorker worker, ulong token, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        if (!worker.Outstanding.Remove(token, out var request))
        {
            Violation(worker.Identity, worker, "REPLY for a request it does not hold");
            return;
        }

        worker.Served++;
        if (status is < 100 or > 599)
        {
            status = CourierStatus.ServerError; // not a status a client can read: the worker failed
        }

        if (status == CourierStatus.Ok)
        {
            services.Reply(request, body);
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
            services.Fail(request, status < 0 ? CourierStatus.ServerError : status, message);
        }

        services.Dispatch(worker.Service);
    }

    private void Violation(byte[] identity, BrokerWorker? worker, string reason)
    {
        BrokerLog.Violation(logger, Convert.ToHexString(identity), reason);
        SendCommand(identity, MdpWorker.DisconnectFrame);
        if (worker is not null)
        {
            Remove(worker, "protocol violation", died: false);
        }
    }

    /// <summary>Sends <paramref name="batch"/> to <paramref name="worker"/> (one request alone in the ordinary form) and empties it.</summary>
    private bool SendBatch(BrokerWorker worker, BatchWriter batch)
    {
        bool sent;
        if (batch.Count == 1)
        {
            var record = batch.Single();
            CourierWorkerFrame.WriteRequest(_requestHeader, record.Id);
            sent = socket.TrySend([worker.Identity, _requestHeader, batch.Slice(record.BodyOffset, record.Body.Length)]);
        }
        else
        {
            sent = socket.TrySend([worker.Identity, batch.Frame]);
        }

        batch.Reset();
        return sent;
    }

    private void SendCommand(byte[] identity, byte[] command) => socket.TrySend([identity, Mdp.Empty, Mdp.WorkerHeader, command]);

    /// <summary>Every registered worker, for 8/MMI statistics.</summary>
    public int Count => _workers.Count;
}
