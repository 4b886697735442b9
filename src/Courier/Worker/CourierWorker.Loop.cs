using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Transport.Internal;
using Courier.Worker.Internal;

namespace Courier.Worker;

// Loop thread only, except handlers on the thread pool (StartHandler, FinishAsync), which hand replies back through Post.
public sealed partial class CourierWorker
{
    // The body offers courier/3: a Courier peer that knows it answers so, an older one answers courier/2.
    private static readonly ReadOnlyMemory<byte>[] ProbeFrames = [Mdp.Empty, Mdp.ClientHeader, Mdp.ProbeServiceBytes, Batch.ProbeAnswer];

    private enum Mode
    {
        Probing,
        Courier,
        Plain,
    }

    private readonly MessageFrames _message = new();
    private readonly List<byte[]> _received = [];
    private readonly long _heartbeatTicks;
    private readonly long _livenessTicks;
    private ITransportSocket? _socket;
    private int _epoch;
    private Mode _mode;
    private long _probeDeadline = long.MaxValue;
    private long _lastHeard;
    private long _nextHeartbeat;
    private long _reconnectAt = long.MaxValue;
    private TimeSpan _reconnectDelay;
    private int _inFlight;
    private bool _draining;
    private bool _saidDisconnect;

    private void Connect()
    {
        _reconnectAt = long.MaxValue;
        _brokerBatches = false;
        if (_draining)
        {
            return;
        }

        var transport = _options.Transport.Linger >= MinimumLinger ? _options.Transport : _options.Transport with { Linger = MinimumLinger };
        var socket = _transport.CreateSocket(SocketKind.Dealer, transport);
        socket.Connect(_options.BrokerEndpoint);
        _loop!.Add(socket, OnReadable);
        _socket = socket;
        _epoch++;
        var now = _clock.GetTimestamp();
        _lastHeard = now;
        _nextHeartbeat = now + _heartbeatTicks;
        switch (_options.Protocol)
        {
            case ClientProtocol.Courier:
                Register(Mode.Courier);
                break;
            case ClientProtocol.Mdp:
                Register(Mode.Plain);
                break;
            default:
                _mode = Mode.Probing;
                _probeDeadline = now + _livenessTicks;
                socket.TrySend(ProbeFrames);
                break;
        }
    }

    private void Register(Mode mode)
    {
        _mode = mode;
        _probeDeadline = long.MaxValue;
        var capacity = mode == Mode.Courier ? _options.Concurrency : 1;
        WorkerLog.Registering(_logger, _options.Name, _options.Service, _options.BrokerEndpoint, mode == Mode.Courier ? "Courier" : "7/MDP", capacity);
        var service = Encoding.UTF8.GetBytes(_options.Service);
        _socket!.TrySend(mode == Mode.Courier
            ? [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, service, MdpWorker.CapabilityFrame(capacity, _brokerBatches)]
            : [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, service]);
    }

    private void Reconnect(string reason)
    {
        if (_socket is not null)
        {
            _loop!.RemoveAndDispose(_socket);
            _socket = null;
            _replyBatch.Reset(); // replies to the old connection's requests: the broker gives those to others
        }

        if (_draining)
        {
            return;
        }

        WorkerLog.Reconnecting(_logger, _options.Name, _options.BrokerEndpoint, reason, _reconnectDelay);
        _reconnectAt = _clock.GetTimestamp() + Ticks(_reconnectDelay);
        _reconnectDelay = TimeSpan.FromTicks(Math.Min(_reconnectDelay.Ticks * 2, _options.ReconnectDelayMax.Ticks));
    }

    private void OnReadable()
    {
        for (var i = 0; i < 1024 && _socket is { } socket && socket.TryReceive(_message); i++)
        {
            if (_message.Count == 1 && Batch.Is(_message[0], Batch.WorkerRequest))
            {
                OnRequestBatch(_message);
            }
            else
            {
                _message.CopyTo(_received);
                OnMessage(_received);
            }

            if (i == 0)
            {
                // A lone request, as when traffic is light, is answered before asking libzmq for more (a system call
                // that would also settle the socket after this send); the rest of a busy turn still shares a batch.
                FlushReplies();
            }
        }

        FlushReplies();
    }

    /// <summary>A batch of REQUESTs (docs/protocol.md §6): copied once; each handler's body is a slice of that copy.</summary>
    private void OnRequestBatch(MessageFrames message)
    {
        _lastHeard = _clock.GetTimestamp();
        _reconnectDelay = _options.ReconnectDelay;
        var data = message.ToArray(0);
        var reader = new BatchReader(data);
        while (reader.TryRead(out var record))
        {
            OnRequest(record.Id, null, [data.AsMemory(record.BodyOffset, record.Body.Length)]);
        }

        if (reader.Malformed)
        {
            WorkerLog.Unexpected(_logger, _options.Name, 1, "a batch with a malformed record");
        }
    }

    private void OnMessage(List<byte[]> frames)
    {
        if (frames.Count >= 3 && frames[0].Length == 0 && frames[1].AsSpan().SequenceEqual(Mdp.ClientHeader)
            && frames[2].AsSpan().SequenceEqual(Mdp.ProbeServiceBytes))
        {
            var version = Mdp.ProbeVersion(frames);
            var courier = version >= 2;
            if (_mode == Mode.Probing)
            {
                _brokerBatches = version >= 3;
                Register(courier ? Mode.Courier : Mode.Plain);
            }
            else if (courier && _mode == Mode.Plain && _inFlight == 0)
            {
                Reconnect("the broker turned out to speak Courier after the probe timed out");
            }

            return;
        }

        if (MdpWorker.IsCourier(frames[0], MdpWorker.Request, MdpWorker.CourierRequestLength))
        {
            // "CURW02"+0x02+token, body…: the header goes back, turned into the REPLY's, so it is the address.
            _lastHeard = _clock.GetTimestamp();
            _reconnectDelay = _options.ReconnectDelay;
            OnRequest(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[0].AsSpan(7)), null, Frames.From(frames, 1));
            return;
        }

        if (frames.Count < 3 || frames[0].Length != 0 || !frames[1].AsSpan().SequenceEqual(Mdp.WorkerHeader) || frames[2].Length != 1)
        {
            WorkerLog.Unexpected(_logger, _options.Name, frames.Count, "not a 7/MDP worker message");
            return;
        }

        _lastHeard = _clock.GetTimestamp();
        _reconnectDelay = _options.ReconnectDelay;
        switch (frames[2][0])
        {
            case MdpWorker.Request when frames.Count >= 5:
                // [“”, MDPW01, REQUEST, client address, “”, body…]; the address is opaque and goes back unchanged.
                OnRequest(0, frames[3], Frames.From(frames, frames[4].Length == 0 ? 5 : 4));
                break;
            case MdpWorker.Heartbeat:
                break;
            case MdpWorker.Disconnect:
                Reconnect("the broker said DISCONNECT");
                break;
            default:
                WorkerLog.Unexpected(_logger, _options.Name, frames.Count, "unknown or malformed command");
                break;
        }
    }

    /// <summary>
    /// Runs the handler for one request. A Courier request is answered by <paramref name="token"/>; a plain 7/MDP one
    /// by <paramref name="plainAddress"/>, the client address the broker sent, echoed back unchanged.
    /// </summary>
    private void OnRequest(ulong token, byte[]? plainAddress, ReadOnlyMemory<byte>[] body)
    {
        var address = new ReplyAddress(token, plainAddress);
        if (_draining && _mode == Mode.Courier)
        {
            SendReply(address, CourierStatus.Unavailable, [Encoding.UTF8.GetBytes("worker stopping")]);
            return;
        }

        Interlocked.Increment(ref _inFlight);
        var epoch = _epoch;
        if (!_options.RunHandlersInline)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static s => _ = s.Worker.FinishAsync(s.Worker.StartHandler(s.Body), s.Address, s.Epoch),
                (Worker: this, Address: address, Body: body, Epoch: epoch),
                preferLocal: false);
            return;
        }

        var pending = StartHandler(body);
        if (pending.IsCompletedSuccessfully)
        {
            Complete(address, CourierStatus.Ok, pending.Result ?? [], epoch);
        }
        else
        {
            _ = FinishAsync(pending, address, epoch);
        }
    }

    private ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> StartHandler(ReadOnlyMemory<byte>[] body)
    {
        try
        {
            return _handler(new CourierRequest(_options.Service, body), _handlerCancellation.Token);
        }
#pragma warning disable CA1031 // A handler that throws before its first await fails like one that throws after it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<IReadOnlyList<ReadOnlyMemory<byte>>>(ex);
        }
    }

    private async Task FinishAsync(ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> pending, ReplyAddress address, int epoch)
    {
        int status;
        IReadOnlyList<ReadOnlyMemory<byte>> reply;
        try
        {
            reply = await pending.ConfigureAwait(false) ?? [];
            status = CourierStatus.Ok;
        }
        catch (OperationCanceledException) when (_handlerCancellation.IsCancellationRequested)
        {
            status = CourierStatus.Unavailable;
            reply = [Encoding.UTF8.GetBytes("worker stopped before the request finished")];
        }
#pragma warning disable CA1031 // Whatever a handler throws becomes an error reply; the worker keeps serving.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            WorkerLog.HandlerFailed(_logger, ex, _options.Service);
            status = CourierStatus.ServerError;
            reply = [Encoding.UTF8.GetBytes($"{ex.GetType().Name}: {ex.Message}")];
        }

        PostCompletion(new Completion(address, status, reply, epoch));
    }

    private void OnTick()
    {
        var now = _clock.GetTimestamp();
        if (now >= _reconnectAt)
        {
            Connect();
            return;
        }

        if (_socket is null || _saidDisconnect)
        {
            return;
        }

        if (_mode == Mode.Probing && now >= _probeDeadline)
        {
            // No 8/MMI answer: a broker without MMI, or none yet. Register as plain 7/MDP; a late Courier answer re-registers.
            Register(Mode.Plain);
        }

        if (now - _lastHeard > _livenessTicks)
        {
            Reconnect("no heartbeat from the broker");
            return;
        }

        // No heartbeats before READY: to a 7/MDP broker, a heartbeat from an unknown worker is an error.
        if (now >= _nextHeartbeat && _mode != Mode.Probing)
        {
            _nextHeartbeat = now + _heartbeatTicks;
            _socket.TrySend([Mdp.Empty, Mdp.WorkerHeader, MdpWorker.HeartbeatFrame]);
        }

        FlushReplies();
    }

    private void BeginDrain()
    {
        _draining = true;
        if (_inFlight == 0)
        {
            _drained.TrySetResult();
        }
    }

    private void SayDisconnect()
    {
        FlushReplies();
        _socket?.TrySend([Mdp.Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame]);
        _saidDisconnect = true; // nothing more goes out: a heartbeat now would be a protocol violation
    }
}
