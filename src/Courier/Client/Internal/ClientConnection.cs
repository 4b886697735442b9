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
    private readonly byte[] _header = new byte[CourierFrame.PrefixLength + Mdp.MaxServiceNameLength];
    private LoneHeader? _loneHeader;

    public ClientConnection(ITransportLoop loop, string endpoint, CourierClientOptions options, ISocketHandler handler, long probeDeadline)
    {
        Endpoint = endpoint;
        _maxInFlight = options.MaxInFlight;
        // Clients offer courier/3: courier/4 adds only what workers use.
        Negotiation = new Negotiation(options.Protocol, probeDeadline, ProtocolVersions.Courier3);
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

    /// <summary>
    /// Sends the requests packed this turn: one alone in the ordinary form, more as one batch (docs/protocol.md §6).
    /// The loop's end of turn calls it, so a batch never waits for more.
    /// </summary>
    public void Flush() => _batch.SendTo(_socket, [Mdp.Empty], _loneHeader ??= LoneRequestHeader); // a refused send is lost like any other: the attempt timeout recovers it

    private ReadOnlyMemory<byte> LoneRequestHeader(ulong id, ReadOnlySpan<byte> service)
        => _header.AsMemory(0, CourierFrame.WriteRequest(_header, id, service));

    /// <summary>Closes the socket; whatever was queued or packed in it is dropped (its requests are resent or failed by the caller).</summary>
    public void Dispose() => _socket.Dispose();
}
