using Courier.Client.Internal;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Client;

// Loop thread only: the connection, its negotiated protocol, and sending.
public sealed partial class CourierClient
{
    private enum PeerMode
    {
        Probing,
        Courier,
        Plain,
    }

    // The body offers courier/3: a Courier peer that knows it answers so, an older one answers courier/2.
    private static readonly ReadOnlyMemory<byte>[] ProbeFrames = [Mdp.Empty, Mdp.ClientHeader, Mdp.ProbeServiceBytes, Batch.ProbeAnswer];

    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Queue<PendingRequest> _waiting = new();
    private readonly List<ReadOnlyMemory<byte>> _sendFrames = [];

    // Request headers are written here, not allocated per request: the transports copy a frame when it is sent.
    private readonly byte[] _headerScratch = new byte[Mdp.CourierPrefixLength + Mdp.MaxServiceNameLength];
    private ITransportSocket? _socket;
    private string _endpoint = "";
    private int _endpointIndex = -1;
    private PeerMode _mode;
    private long _probeDeadline = long.MaxValue;
    private int _sentCount;
    private PendingRequest? _plainOutstanding;
    private bool _peerBatches;
    private readonly BatchWriter _requestBatch = new(Batch.ClientRequest);

    private void EnsureConnected()
    {
        if (_socket is not null)
        {
            return;
        }

        _endpointIndex = (_endpointIndex + 1) % _options.Endpoints.Count;
        _endpoint = _options.Endpoints[_endpointIndex];
        ClientLog.Connecting(_logger, _endpoint, _options.Protocol.ToString());
        var socket = _transport.CreateSocket(SocketKind.Dealer, _options.Transport);
        socket.Connect(_endpoint);
        _loop.Add(socket, OnReadable);
        _socket = socket;
        _sentCount = 0;
        _plainOutstanding = null;
        _mode = _options.Protocol switch
        {
            ClientProtocol.Courier => PeerMode.Courier,
            ClientProtocol.Mdp => PeerMode.Plain,
            _ => PeerMode.Probing,
        };
        if (_mode == PeerMode.Probing)
        {
            _probeDeadline = _clock.GetTimestamp() + ToTimestampTicks(_options.Timeout);
            socket.TrySend(ProbeFrames);
        }
    }

    private void Disconnect()
    {
        if (_socket is not null)
        {
            _loop.RemoveAndDispose(_socket);
            _socket = null;
        }

        _probeDeadline = long.MaxValue;
        _plainOutstanding = null;
        _sentCount = 0;
        _peerBatches = false;
        _requestBatch.Reset(); // its requests are resent, or failed, by whoever dropped the connection
    }

    /// <summary>Gives <paramref name="request"/> to the current connection: sends it now or queues it behind the probe or a busy slot.</summary>
    private void Dispatch(PendingRequest request)
    {
        request.Sent = false;
        request.AttemptDeadline = _clock.GetTimestamp() + ToTimestampTicks(_options.Timeout);
        _attemptTimeouts.AddLast(request);
        if (CanSendNow())
        {
            Send(request);
        }
        else
        {
            _waiting.Enqueue(request);
        }
    }

    private bool CanSendNow() => _mode switch
    {
        PeerMode.Courier => _sentCount < _options.MaxInFlight,
        PeerMode.Plain => _plainOutstanding is null,
        _ => false,
    };

    private void SendWaiting()
    {
        while (CanSendNow() && _waiting.TryDequeue(out var next))
        {
            if (!next.Task.IsCompleted)
            {
                Send(next);
            }
        }
    }

    private void Send(PendingRequest request)
    {
        if (_peerBatches && _mode == PeerMode.Courier && request.Body.Length == 1 && Batch.Fits(1, request.Body[0].Length))
        {
            // Packed with the others this turn of the loop sends (FlushRequests).
            request.Sent = true;
            _sentCount++;
            if (!_requestBatch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span))
            {
                FlushRequests();
                _requestBatch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span);
            }

            return;
        }

        var frames = _sendFrames;
        frames.Clear();
        frames.Add(Mdp.Empty);
        if (_mode == PeerMode.Courier)
        {
            frames.Add(_headerScratch.AsMemory(0, Mdp.WriteCourierRequestHeader(_headerScratch, request.Id, request.ServiceFrame)));
        }
        else
        {
            frames.Add(Mdp.ClientHeader);
            frames.Add(request.ServiceFrame);
            _plainOutstanding = request;
        }

        frames.AddRange(request.Body);
        request.Sent = true;
        _sentCount++;

        // A refused send (queue full) is lost like any other message: the attempt timeout recovers it.
        _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
    }

    /// <summary>
    /// Sends the requests batched this turn of the loop: one alone in the ordinary form, more as one batch
    /// (docs/protocol.md §6). Called at the end of everything the loop runs, so a batch never waits for more.
    /// </summary>
    private void FlushRequests()
    {
        var batch = _requestBatch;
        if (batch.Count == 0)
        {
            return;
        }

        if (_socket is { } socket)
        {
            // A refused send (queue full) is lost like any other message: the attempt timeout recovers it.
            if (batch.Count == 1)
            {
                var record = batch.Single();
                var header = _headerScratch.AsMemory(0, Mdp.WriteCourierRequestHeader(_headerScratch, record.Id, record.Tag));
                socket.TrySend([Mdp.Empty, header, batch.Slice(record.BodyOffset, record.Body.Length)]);
            }
            else
            {
                socket.TrySend([Mdp.Empty, batch.Frame]);
            }
        }

        batch.Reset();
    }

    private long ToTimestampTicks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
