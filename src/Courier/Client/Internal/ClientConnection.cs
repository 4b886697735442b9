using System.Runtime.InteropServices;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Client.Internal;

/// <summary>What a client connection hands its owner: each message it receives, with itself as the source.</summary>
internal interface IClientConnectionOwner
{
    /// <summary>A message from <paramref name="connection"/>'s peer; return false to stop reading it this turn.</summary>
    bool OnMessage(ClientConnection connection, MessageFrames message);

    /// <summary>The client's identity under courier/5, sent with every request on every connection.</summary>
    ClientIdentity Identity { get; }

    /// <summary><paramref name="requests"/> request(s) whose message the transport refused (the connection's queue full); their attempt timeout recovers them.</summary>
    void SendRefused(ClientConnection connection, int requests);
}

/// <summary>
/// One connection of a client to one of its endpoints: its socket, what negotiation learned of the peer, what is in
/// flight on it, whether it is still taking new requests, the probe that checks it is alive, and the batch of requests
/// packed this turn. Replaced as a whole when judged dead, never reset field by field. Loop thread only.
/// </summary>
internal sealed class ClientConnection : ISocketHandler, IDisposable
{
    private readonly ITransportSocket _socket;
    private readonly IClientConnectionOwner _owner;
    private readonly int _maxInFlight;
    private readonly BatchWriter _batch = new(Batch.ClientRequest);
    private readonly List<ReadOnlyMemory<byte>> _frames = [];

    // Request headers are written here, not allocated per request: the transports copy a frame when it is sent.
    private readonly byte[] _header = new byte[CourierFrame5.MaxRequestLength];
    private readonly byte[] _meta = new byte[Delivery.FixedLength];
    private readonly ClientIdentity _client;
    private BatchWriter? _batch5;

    /// <summary>
    /// The requests packed this turn: they may have run (<see cref="PendingRequest.MayHaveRun"/>) once the transport takes
    /// their batch, not before (a connection judged dead before its end of turn never sends it) and not if refused.
    /// </summary>
    private readonly List<PendingRequest> _packed = [];
    private int _unpacked; // of _packed, taken out again since (Unpack)
    private Predicate<int>? _stillPacked;
    private LoneHeader? _loneHeader;
    private LoneHeader? _loneHeader5;

    // CANCELs that reached this connection while it negotiated (for attempts made on a connection to the same endpoint
    // that has closed since): sent once it speaks courier/5, dropped otherwise. Bounded: a CANCEL only shortens a run.
    private List<ulong>? _heldCancels;

    /// <summary>How many CANCELs a negotiating connection holds at most; past it the newest are dropped.</summary>
    internal const int MaxHeldCancels = 1024;

    public ClientConnection(ITransportLoop loop, int slot, string endpoint, CourierClientOptions options, IClientConnectionOwner owner, long probeDeadline)
    {
        Slot = slot;
        Endpoint = endpoint;
        _owner = owner;
        _maxInFlight = options.MaxInFlight;
        _client = owner.Identity;
        // Clients offer courier/7 (a courier/4 peer answers courier/4, which for a client is courier/3: batches; a
        // courier/6 peer courier/6, which for a client is courier/5).
        Negotiation = new Negotiation(options.Protocol, probeDeadline, ProtocolVersions.OfferFor(options.Transport.MaxFrameSize));
        // A name looked up too slowly is connected late: the probe, sent into nothing, goes again then.
        _socket = loop.CreateConnected(Transport.Internal.SocketKind.Dealer, options.Transport, this, endpoint, onLateConnect: ProbeWhileProbing);
        ProbeWhileProbing();
    }

    /// <summary>Sends the protocol probe (<see cref="Negotiation.ProbeFrames"/>) while the peer's protocol is still unknown.</summary>
    public void ProbeWhileProbing()
    {
        if (Negotiation.Mode == PeerMode.Probing)
        {
            _socket.TrySend(Negotiation.ProbeFrames);
        }
    }

    /// <summary>Which of the client's endpoints this connects to.</summary>
    public int Slot { get; }

    public string Endpoint { get; }

    public Negotiation Negotiation { get; }

    /// <summary>Requests sent on this connection and not yet answered, moved or given up.</summary>
    public int SentCount { get; private set; }

    /// <summary>
    /// Kept current after a refusal though it should have retired (its endpoint had as many retiring as are kept): until
    /// then (a timestamp), requests go to any other connection that can take them.
    /// </summary>
    public long RefusedUntil { get; set; }

    /// <summary>In plain 7/MDP, the one request awaiting its reply.</summary>
    public PendingRequest? PlainOutstanding { get; set; }

    /// <summary>
    /// Its peer refused a request as stopping or full (503): it takes no new requests, but the replies to those it holds
    /// still arrive here; closed once they have.
    /// </summary>
    public bool Retiring { get; set; }

    /// <summary>
    /// Its peer answered a request on it with anything but a refusal: a later 503 here is about that request or its
    /// service (a full queue), not a peer that refuses everything, so its endpoint is connected again at once.
    /// </summary>
    public bool HasAnswered { get; set; }

    /// <summary>
    /// The incarnation of the peer this connection reached, from its probe answer; null for a peer that sends none.
    /// libzmq redials a dropped connection by itself, so a later probe answer naming another one means the requests
    /// sent before went to a peer that is gone.
    /// </summary>
    public ulong? PeerIncarnation { get; set; }

    /// <summary>
    /// Whether <see cref="PeerIncarnation"/> was told by the peer (its negotiation answer, or a probe's): a connection made
    /// with <see cref="ClientProtocol.Courier"/> asks nothing at first, and its first probe answer names the peer it
    /// always had, not another.
    /// </summary>
    public bool IncarnationKnown { get; set; }

    /// <summary>At-most-once requests whose attempt expired, resent only once the probe's answer names the same peer.</summary>
    public List<PendingRequest>? HeldForProbe { get; private set; }

    /// <summary>The probe whose answer (or a later one's) releases what is held: the one sent when the last was held.</summary>
    public ulong HeldUntilProbe { get; private set; }

    /// <summary>The last liveness probe sent on this connection (0: none yet); a request sent after it records it.</summary>
    public ulong LastProbeSent { get; private set; }

    public void HoldForProbe(PendingRequest request)
    {
        HeldForProbe ??= [];
        HeldUntilProbe = LastProbeSent;
        if (!request.Held)
        {
            request.Held = true;
            HeldForProbe.Add(request);
        }
    }

    // Held requests that have left since (answered, failed, moved): dropped from the list once they are half of it, so
    // that a peer keeping the connection alive without answering its probe cannot make it keep every request given up.
    private int _heldLeft;

    /// <summary>
    /// The requests held, taken if the answer to probe <paramref name="probeId"/> releases them (it was sent at or after
    /// the last was held); otherwise null and they stay.
    /// </summary>
    public List<PendingRequest>? TakeHeld(ulong probeId)
    {
        if (HeldForProbe is not { } held || probeId < HeldUntilProbe)
        {
            return null;
        }

        HeldForProbe = null;
        _heldLeft = 0;
        foreach (var request in held)
        {
            request.Held = false;
        }

        return held;
    }

    // The liveness probes sent here and not answered, oldest first (ids rise; a few at most: one per expired attempt,
    // bounded all the same). An answer takes its probe and the older ones, which it supersedes.
    private readonly Queue<ulong> _probesOut = new();

    /// <summary>
    /// Whether an answer naming <paramref name="probeId"/> answers a liveness probe sent here and not answered before:
    /// taken once. Anything else a peer says with a probe's id (another connection's, one never sent, one answered) is
    /// not an answer, and costs the client nothing.
    /// </summary>
    public bool TakeProbeAnswer(ulong probeId)
    {
        while (_probesOut.TryPeek(out var oldest) && oldest < probeId)
        {
            _probesOut.Dequeue();
        }

        if (_probesOut.TryPeek(out var first) && first == probeId)
        {
            _probesOut.Dequeue();
            return true;
        }

        return false;
    }

    /// <summary>The id of the liveness probe out on this connection; 0 when none is.</summary>
    public ulong ProbeId { get; private set; }

    /// <summary>When the liveness probe out gives up (the connection is then dead); <see cref="long.MaxValue"/> when none is out.</summary>
    public long ProbeDeadline { get; private set; } = long.MaxValue;

    public bool CanSendNow => !Retiring && Negotiation.Mode switch
    {
        PeerMode.Courier => SentCount < _maxInFlight,
        PeerMode.Plain => PlainOutstanding is null,
        _ => false,
    };

    bool ISocketHandler.OnMessage(MessageFrames message) => _owner.OnMessage(this, message);

    void ISocketHandler.OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }

    /// <summary>Requests made from replies' continuations leave together at the turn's end.</summary>
    bool ISocketHandler.EndTurnAfterFirstMessage => false;

    /// <summary>
    /// Asks the peer whether it is alive (a Courier <c>mmi.courier</c> request, answered by servers and brokers alike,
    /// draining or not), unless a probe is already out; <paramref name="fresh"/>: even then (a request is held for the
    /// answer to a probe sent after it), the connection still judged dead by the first one's deadline. Courier framing
    /// only: a plain 7/MDP connection has one request at a time and is judged by it.
    /// </summary>
    public void Probe(ulong id, long deadline, bool fresh = false)
    {
        if ((ProbeId != 0 && !fresh) || Negotiation.Mode != PeerMode.Courier)
        {
            return;
        }

        ProbeId = id;
        ProbeDeadline = Math.Min(ProbeDeadline, deadline);
        LastProbeSent = id;
        if (_probesOut.Count == 64)
        {
            _probesOut.Dequeue();
        }

        _probesOut.Enqueue(id);
        _frames.Clear();
        _frames.Add(Mdp.Empty);
        _frames.Add(_header.AsMemory(0, CourierFrame.WriteRequest(_header, id, ProtocolVersions.ProbeServiceBytes)));
        _frames.Add(ProtocolVersions.Courier3);
        _socket.TrySend(CollectionsMarshal.AsSpan(_frames));
        _frames.Clear();
    }

    /// <summary>The peer said something: it is alive, whatever probe was out.</summary>
    public void HeardFrom()
    {
        ProbeId = 0;
        ProbeDeadline = long.MaxValue;
    }

    /// <summary>Sends <paramref name="request"/> (again, if it was already out here), or packs it with the others this turn sends (<see cref="Flush"/>).</summary>
    public void Send(PendingRequest request)
    {
        request.PackedOn?.Unpack(request); // sent again in the turn that packed it: once
        if (!ReferenceEquals(request.Connection, this))
        {
            request.Connection = this;
            request.TakenHere = 0;
            request.TakenAttempt = 0;
            SentCount++;
        }

        request.LastRefusal = null;
        request.SentAfterProbe = LastProbeSent;
        var expected = request.ExpectedIncarnation;
        request.ExpectedIncarnation = null; // for this send only
        if (Negotiation.PeerDelivery && Negotiation.Mode == PeerMode.Courier)
        {
            Send5(request, expected);
            return;
        }

        if (Negotiation.PeerBatches && Negotiation.Mode == PeerMode.Courier && request.Body.Length == 1 && Batch.Fits(1, request.Body[0].Length, large: false))
        {
            if (!_batch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span))
            {
                Flush();
                _batch.TryAdd(request.Id, request.ServiceFrame, request.Body[0].Span);
            }

            Packed(request);
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
        SendAlone(frames, request);
    }

    /// <summary>
    /// CURC05 (docs/protocol.md §8): identity, attempt, flags, budget and headers go with the request, and
    /// <paramref name="expected"/>, the peer incarnation a held resend names.
    /// </summary>
    private void Send5(PendingRequest request, ulong? expected)
    {
        var attempt = AttemptOf(request);
        // A resend held for a probe's answer: the peer checks that it is still the one that answered (the engine made
        // sure the entry fits).
        var headers = expected is { } incarnation ? IncarnationHeader.Append(request.Headers, incarnation) ?? request.Headers : request.Headers;

        var large = Negotiation.PeerLargeBatches;
        if (request.Body.Length == 1 && Batch.Fits(1, request.Body[0].Length, large) && headers.Length <= Batch.MaxBodyLength)
        {
            if (_batch5 is null)
            {
                // The negotiation is settled before anything is packed, and stays so for the connection's life.
                _batch5 = new BatchWriter(Batch.ClientRequest5, Batch.FrameBound(large));
                _batch5.SetClient(_client);
            }

            // courier/7: each record says that its reply may come in a batch as large as the client's own.
            Delivery.WriteFixed(_meta, attempt, large ? request.Flags | DeliveryFlags.LargeReplies : request.Flags, request.BudgetMs);
            if (!_batch5.TryAdd(request.Id, request.ServiceFrame, _meta, headers, request.Body[0].Span))
            {
                Flush();
                _batch5.TryAdd(request.Id, request.ServiceFrame, _meta, headers, request.Body[0].Span);
            }

            Packed(request);
            return;
        }

        var frames = _frames;
        frames.Clear();
        frames.Add(Mdp.Empty);
        frames.Add(_header.AsMemory(0, CourierFrame5.WriteRequest(_header, request.Id, _client, attempt, request.Flags, request.BudgetMs, request.ServiceFrame, headers)));
        frames.AddRange(request.Body);
        SendAlone(frames, request);
    }

    private void Packed(PendingRequest request)
    {
        request.PackedOn = this;
        request.PackedAttempt = AttemptOf(request); // what the record says, whatever the request's count is at the flush
        request.PackedAt = _packed.Count; // a record was just added for it: the batch's records and _packed go in step
        _packed.Add(request);
    }

    /// <summary>
    /// Takes <paramref name="request"/>, packed here this turn, out of what the turn sends: detached from this connection
    /// (a 503 for its earlier attempt, a restart, a move) or sent again before the end of the turn, it must not leave
    /// here as well, where an at-most-once request could run besides wherever it goes next. Marked now, dropped from the
    /// batch at the flush in one pass: a table emptied at once costs no scan per request.
    /// </summary>
    public void Unpack(PendingRequest request)
    {
        request.PackedOn = null;
        _unpacked++;
    }

    /// <summary>Whether the request packed <paramref name="index"/>th this turn is still to leave here (not unpacked, nor packed again since).</summary>
    private bool StillPacked(int index) => _packed[index] is var request && ReferenceEquals(request.PackedOn, this) && request.PackedAt == index;

    private void DropUnpacked()
    {
        // A connection packs into one of the two: its negotiation is settled before anything is packed.
        var batch = _batch5 is { Count: > 0 } batch5 ? batch5 : _batch;
        System.Diagnostics.Debug.Assert(batch.Count == _packed.Count, "one record per request packed");
        batch.Compact(_stillPacked ??= StillPacked);
        var kept = 0;
        for (var i = 0; i < _packed.Count; i++)
        {
            if (StillPacked(i))
            {
                var request = _packed[i];
                request.PackedAt = kept; // in step with its record, moved down as far
                _packed[kept++] = request;
            }
        }

        _packed.RemoveRange(kept, _packed.Count - kept);
        _unpacked = 0;
    }

    /// <summary>
    /// <paramref name="request"/>'s message, then <paramref name="frames"/> emptied. Taken by the transport, the request
    /// may have run; refused, it is as it was (it did not leave).
    /// </summary>
    private void SendAlone(List<ReadOnlyMemory<byte>> frames, PendingRequest request)
    {
        // A refused send (queue full) is lost like any other message: the attempt timeout recovers it, and the owner
        // says so.
        if (_socket.TrySend(CollectionsMarshal.AsSpan(frames)))
        {
            Taken(request, AttemptOf(request));
        }
        else
        {
            _owner.SendRefused(this, 1);
        }

        frames.Clear();
    }

    /// <summary>
    /// Tells the peer (courier/5) that the caller of request <paramref name="id"/> gave up; nothing when it does not speak
    /// courier/5. While negotiating it holds the CANCEL until the peer answers (<see cref="SendHeldCancels"/>).
    /// </summary>
    public void SendCancel(ulong id)
    {
        if (IsClosed)
        {
            return;
        }

        if (Negotiation.Mode == PeerMode.Probing)
        {
            _heldCancels ??= [];
            if (_heldCancels.Count < MaxHeldCancels)
            {
                _heldCancels.Add(id);
            }

            return;
        }

        if (Negotiation.PeerDelivery && Negotiation.Mode == PeerMode.Courier)
        {
            Flush(); // the request itself may still be packed: it must leave first
            _socket.TrySend([Mdp.Empty, CourierFrame5.CancelFrame(id, _client)]);
        }
    }

    /// <summary>Negotiation ended: the CANCELs held meanwhile go now if the peer speaks courier/5.</summary>
    public void SendHeldCancels()
    {
        if (_heldCancels is not { } held)
        {
            return;
        }

        _heldCancels = null;
        foreach (var id in held)
        {
            SendCancel(id);
        }
    }

    /// <summary><paramref name="request"/> is no longer out here: answered, moved or given up.</summary>
    public void Released(PendingRequest request)
    {
        if (ReferenceEquals(request.PackedOn, this))
        {
            Unpack(request);
        }

        SentCount--;
        if (ReferenceEquals(PlainOutstanding, request))
        {
            PlainOutstanding = null;
        }

        if (request.Held && HeldForProbe is { } held)
        {
            request.Held = false;
            if (++_heldLeft * 2 > held.Count)
            {
                held.RemoveAll(static r => !r.Held);
                _heldLeft = 0;
            }
        }
    }

    /// <summary>
    /// Sends the requests packed this turn: one alone in the ordinary form, more as one batch (docs/protocol.md §6).
    /// The loop's end of turn calls it, so a batch never waits for more.
    /// </summary>
    public void Flush()
    {
        var taken = false;
        try
        {
            if (_unpacked > 0)
            {
                DropUnpacked();
            }

            // A connection packs into one of the two: its negotiation is settled before anything is packed.
            taken = SendPacked(_batch, _loneHeader ??= LoneRequestHeader);
            if (_batch5 is { } batch5)
            {
                taken &= SendPacked(batch5, _loneHeader5 ??= LoneRequestHeader5);
            }
        }
        finally
        {
            ClearPacked(taken);
        }
    }

    /// <summary>Ends the turn's packing: each request still packed here is no longer, and, if <paramref name="taken"/>, went out.</summary>
    private void ClearPacked(bool taken)
    {
        for (var i = 0; i < _packed.Count; i++)
        {
            // One unpacked from here (if a compaction threw, or on disposal) may be packed elsewhere by now: left as it is.
            if (StillPacked(i))
            {
                var request = _packed[i];
                request.PackedOn = null;
                if (taken)
                {
                    Taken(request, request.PackedAttempt);
                }
            }
        }

        _packed.Clear();
        _unpacked = 0;
    }

    /// <summary>The transport took a copy of <paramref name="request"/>, which says it is <paramref name="attempt"/>: it may run.</summary>
    private static void Taken(PendingRequest request, byte attempt)
    {
        request.MayHaveRun = true;
        request.TakenHere++;
        request.TakenAttempt = attempt;
    }

    /// <summary>The attempt a copy sent now says it is (courier/5 carries it in a byte).</summary>
    private static byte AttemptOf(PendingRequest request) => (byte)Math.Min(request.Attempts, byte.MaxValue);

    private bool SendPacked(BatchWriter batch, LoneHeader loneHeader)
    {
        // A refused send is lost like any other: the attempt timeout recovers it, and the owner says so.
        var packed = batch.Count;
        if (!batch.SendTo(_socket, [Mdp.Empty], loneHeader))
        {
            _owner.SendRefused(this, packed);
            return false;
        }

        return true;
    }

    private ReadOnlyMemory<byte> LoneRequestHeader(BatchRecord record)
        => _header.AsMemory(0, CourierFrame.WriteRequest(_header, record.Id, record.Tag));

    private ReadOnlyMemory<byte> LoneRequestHeader5(BatchRecord record)
    {
        var meta = record.Meta;
        var budget = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(meta[2..]);
        return _header.AsMemory(0, CourierFrame5.WriteRequest(_header, record.Id, _client, meta[0], (DeliveryFlags)meta[1] & ~DeliveryFlags.LargeReplies, budget, record.Tag, meta[Delivery.FixedLength..]));
    }

    public bool IsClosed => _socket.IsClosed;

    /// <summary>Closes the socket; whatever was queued or packed in it is dropped (its requests are moved or failed by the owner).</summary>
    public void Dispose()
    {
        _heldCancels = null; // its probe went unanswered: a replacement does not inherit them
        // What was packed this turn never leaves: nothing of it may have run here, and a rented buffer goes back.
        ClearPacked(taken: false);
        _batch.Reset();
        _batch5?.Reset();
        _socket.Dispose();
    }
}
