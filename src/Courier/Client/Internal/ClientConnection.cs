using System.Runtime.InteropServices;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Client.Internal;

/// <summary>
/// One connection of a client: its socket and endpoint, what negotiation learned of the peer, what is in flight on it,
/// and the batch of requests packed this turn. Replaced as a whole on reconnect, never reset field by field. Loop thread only.
/// </summary>
internal sealed class ClientConnection : IDisposable
{
    private readonly ITransportSocket _socket;
    private readonly int _maxInFlight;
    private readonly BatchWriter _batch = new(Batch.ClientRequest);
    private readonly List<ReadOnlyMemory<byte>> _frames = [];

    // Request headers are written here, not allocated per request: the transports copy a frame when it is sent.
    private readonly byte[] _header = new byte[CourierFrame5.MaxRequestLength];
    private readonly byte[] _meta = new byte[Delivery.FixedLength];
    private readonly ClientIdentity _client;
    private BatchWriter? _batch5;
    private LoneHeader? _loneHeader;
    private LoneHeader? _loneHeader5;

    public ClientConnection(ITransportLoop loop, string endpoint, CourierClientOptions options, ISocketHandler handler, long probeDeadline, ClientIdentity client)
    {
        Endpoint = endpoint;
        _maxInFlight = options.MaxInFlight;
        _client = client;
        // Clients offer courier/5 (a courier/4 peer answers courier/4, which for a client is courier/3: batches).
        Negotiation = new Negotiation(options.Protocol, probeDeadline, ProtocolVersions.Courier5);
        _socket = loop.CreateConnected(Transport.Internal.SocketKind.Dealer, options.Transport, handler, endpoint);

        if (Negotiation.Mode == PeerMode.Probing)
        {
            _socket.TrySend(Negotiation.ProbeFrames);
        }
    }

    public string Endpoint { get; }

    public Negotiation Negotiation { get; }

    /// <summary>Requests sent on this connection and not yet answered.</summary>
    public int SentCount { get; set; }

    /// <summary>In plain 7/MDP, the one request awaiting its reply.</summary>
    public PendingRequest? PlainOutstanding { get; set; }

    public bool CanSendNow => Negotiation.Mode switch
    {
        PeerMode.Courier => SentCount < _maxInFlight,
        PeerMode.Plain => PlainOutstanding is null,
        _ => false,
    };

    /// <summary>Sends <paramref name="request"/>, or packs it with the others this turn sends (<see cref="Flush"/>).</summary>
    public void Send(PendingRequest request)
    {
        request.Sent = true;
        SentCount++;
        if (Negotiation.PeerDelivery && Negotiation.Mode == PeerMode.Courier)
        {
            Send5(request);
            return;
        }

        if (Negotiation.PeerBatches && Negotiation.Mode == PeerMode.Courier && request.Body.Length == 1 && Batch.Fits(1, request.Body[0].Length))
        {
            if (!_batch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span))
            {
                Flush();
                _batch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span);
            }

            return;
        }

        var frames = _frames;
        frames.Clear();
        frames.Add(Mdp.Empty);
        if (Negotiation.Mode == PeerMode.Courier)
        {
            frames.Add(_header.AsMemory(0, CourierFrame.WriteRequest(_header, request.Id, request.ServiceFrame)));
        }
        else
        {
            frames.Add(Mdp.ClientHeader);
            frames.Add(request.ServiceFrame);
            PlainOutstanding = request;
        }

        frames.AddRange(request.Body);

        // A refused send (queue full) is lost like any other message: the attempt timeout recovers it.
        _socket.TrySend(CollectionsMarshal.AsSpan(frames));
        frames.Clear();
    }

    /// <summary>CURC05 (docs/protocol.md §8): identity, attempt, flags, budget and headers go with the request.</summary>
    private void Send5(PendingRequest request)
    {
        var attempt = (byte)Math.Min(request.Attempts, byte.MaxValue);
        if (request.Body.Length == 1 && Batch.Fits(1, request.Body[0].Length) && request.Headers.Length <= Batch.MaxBodyLength)
        {
            if (_batch5 is null)
            {
                _batch5 = new BatchWriter(Batch.ClientRequest5);
                _batch5.SetClient(_client);
            }

            Delivery.WriteFixed(_meta, attempt, request.Flags, request.BudgetMs);
            if (!_batch5.TryAdd(request.Id, request.ServiceFrame, _meta, request.Headers, request.Body[0].Span))
            {
                Flush();
                _batch5.TryAdd(request.Id, request.ServiceFrame, _meta, request.Headers, request.Body[0].Span);
            }

            return;
        }

        var frames = _frames;
        frames.Clear();
        frames.Add(Mdp.Empty);
        frames.Add(_header.AsMemory(0, CourierFrame5.WriteRequest(_header, request.Id, _client, attempt, request.Flags, request.BudgetMs, request.ServiceFrame, request.Headers)));
        frames.AddRange(request.Body);
        _socket.TrySend(CollectionsMarshal.AsSpan(frames));
        frames.Clear();
    }

    /// <summary>Tells the peer (courier/5) that the caller of request <paramref name="id"/> gave up; nothing when it does not speak courier/5.</summary>
    public void SendCancel(ulong id)
    {
        if (Negotiation.PeerDelivery && Negotiation.Mode == PeerMode.Courier)
        {
            Flush(); // the request itself may still be packed: it must leave first
            _socket.TrySend([Mdp.Empty, CourierFrame5.CancelFrame(id, _client)]);
        }
    }

    /// <summary>
    /// Sends the requests packed this turn: one alone in the ordinary form, more as one batch (docs/protocol.md §6).
    /// The loop's end of turn calls it, so a batch never waits for more.
    /// </summary>
    public void Flush()
    {
        // A refused send is lost like any other: the attempt timeout recovers it.
        _batch.SendTo(_socket, [Mdp.Empty], _loneHeader ??= LoneRequestHeader);
        _batch5?.SendTo(_socket, [Mdp.Empty], _loneHeader5 ??= LoneRequestHeader5);
    }

    private ReadOnlyMemory<byte> LoneRequestHeader(BatchRecord record)
        => _header.AsMemory(0, CourierFrame.WriteRequest(_header, record.Id, record.Tag));

    private ReadOnlyMemory<byte> LoneRequestHeader5(BatchRecord record)
    {
        var meta = record.Meta;
        var budget = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(meta[2..]);
        return _header.AsMemory(0, CourierFrame5.WriteRequest(_header, record.Id, _client, meta[0], (DeliveryFlags)meta[1], budget, record.Tag, meta[Delivery.FixedLength..]));
    }

    /// <summary>Closes the socket; whatever was queued or packed in it is dropped (its requests are resent or failed by the caller).</summary>
    public void Dispose() => _socket.Dispose();
}
