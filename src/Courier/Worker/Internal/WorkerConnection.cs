using System.Runtime.InteropServices;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;

namespace Courier.Worker.Internal;

/// <summary>
/// One connection of a worker to its broker, for the services of its <see cref="WorkerLink"/>: the socket, what
/// negotiation learned of the broker, when it was last heard from, and the replies packed this turn. Replaced as a whole
/// on reconnect. What arrives on its socket goes to its owner with the connection it came by. Loop thread only.
/// </summary>
internal sealed class WorkerConnection : ISocketHandler, IDisposable
{
    private readonly ITransportSocket _socket;
    private readonly Func<WorkerConnection, MessageFrames, bool> _onMessage;
    private readonly Action<int, int, bool> _onRefusedReplies;
    private readonly HeldReplies _held;
    private readonly byte[] _replyHeader = new byte[CourierWorkerFrame.ReplyLength];
    private byte[]? _replyHeader5;
    private LoneHeader? _loneHeader;
    private readonly byte[] _status = new byte[3];
    private readonly List<ReadOnlyMemory<byte>> _frames = [];
    private readonly BatchWriter _batch = new(Batch.WorkerReply);

    /// <summary>
    /// Connects; with a <paramref name="negotiation"/> still probing, sends the probe. <paramref name="onRefusedReplies"/>
    /// is told how many replies the socket refused (its high-water mark) and were held, with how many are held in all; or
    /// how many were lost (held still when the connection ended).
    /// </summary>
    public WorkerConnection(
        ITransportLoop loop, string endpoint, Transport.TransportOptions transport, WorkerLink link, Negotiation negotiation,
        Func<WorkerConnection, MessageFrames, bool> onMessage, Action<int, int, bool> onRefusedReplies, TimeProvider clock, long now)
    {
        Link = link;
        Negotiation = negotiation;
        LastHeard = now;
        _onMessage = onMessage;
        _onRefusedReplies = onRefusedReplies;
        // A name looked up too slowly is connected late: the probe, sent into nothing, goes again then.
        _socket = loop.CreateConnected(SocketKind.Dealer, transport, this, endpoint, onLateConnect: ProbeWhileProbing, countUnwritten: true);
        // As many replies as the broker may have requests out here (the capacities this connection announced: a plain
        // 7/MDP READY announces one): a broker that reads slowly leaves at most that many unread, and is waited for,
        // however large they are.
        _held = new HeldReplies(_socket, transport.MaxPendingBytesPerPeer,
            () => Negotiation.Mode == PeerMode.Courier ? Link.Services.Sum(s => s.Capacity) : Link.Services.Count, clock);
        ProbeWhileProbing();
    }

    public WorkerLink Link { get; }

    public Negotiation Negotiation { get; }

    public long LastHeard { get; set; }

    public long NextHeartbeat { get; set; }

    public bool Closed { get; private set; }

    /// <summary>Said DISCONNECT: the broker has forgotten this worker, and anything more sent here is a protocol violation.</summary>
    public bool SaidDisconnect { get; private set; }

    /// <summary>
    /// A reply the socket refused was still held when the connection ended: a request taken on this connection went
    /// unanswered, so its DISCONNECT may not say "drained" (the broker would give a request that ran to another worker).
    /// </summary>
    public bool LostReply { get; private set; }

    /// <summary>
    /// Whether an answer sent here reaches the broker that gave the request: not on an earlier connection of the link (the
    /// broker has taken its requests back) nor after DISCONNECT.
    /// </summary>
    public bool CanAnswer => !Closed && !SaidDisconnect && ReferenceEquals(Link.Connection, this);

    /// <summary>The 8/MMI probe (again, when the first answer asked for it).</summary>
    public void SendProbe() => _socket.TrySend(Negotiation.ProbeFrames);

    /// <summary>A probe sent after DISCONNECT (<see cref="IsRead"/>) and not answered yet.</summary>
    public bool AwaitsReadReceipt { get; private set; }

    private bool _readReceipt;

    /// <summary>The probe sent after DISCONNECT was answered: the broker read everything sent before it.</summary>
    public void ReadReceiptCame()
    {
        AwaitsReadReceipt = false;
        _readReceipt = true;
    }

    /// <summary>
    /// Once DISCONNECT was said: whether the broker has read what was sent here, as far as this worker can know, so that
    /// the socket may close. A Courier broker is asked: once DISCONNECT and every reply held before it have been handed to
    /// the transport, a probe follows (sent again at later calls if the socket refuses it), which a Courier broker answers
    /// from any peer, and its answer says the broker has read everything before it. A 7/MDP broker, to which anything after
    /// DISCONNECT is a protocol violation, cannot be asked: then it is once the transport has written the large messages
    /// it took (smaller ones are not counted). Closed: nothing more can be known.
    /// </summary>
    public bool IsRead()
    {
        if (Closed || _readReceipt)
        {
            return true;
        }

        if (!_held.IsEmpty)
        {
            return false;
        }

        if (Negotiation.Mode != PeerMode.Courier)
        {
            return _socket.LargestPendingBytes == 0;
        }

        if (!AwaitsReadReceipt)
        {
            AwaitsReadReceipt = _socket.TrySend(Negotiation.ProbeFrames);
        }

        return false;
    }

    private void ProbeWhileProbing()
    {
        if (Negotiation.Mode == PeerMode.Probing)
        {
            SendProbe();
        }
    }

    /// <summary>
    /// READY for <paramref name="service"/>, with Courier's capability frame (the version agreed, the capacity, and under
    /// courier/4 the worker's <paramref name="name"/>) when the broker speaks Courier.
    /// </summary>
    public void SayReady(WorkerService service, int capacity, string name)
    {
        _socket.TrySend(Negotiation.Mode == PeerMode.Courier
            ? [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, service.NameFrame, CourierWorkerFrame.Capability(Negotiation.Version, capacity, name, service.Idempotent)]
            : [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, service.NameFrame]);
    }

    public void SendCommand(byte[] command) => _socket.TrySend([Mdp.Empty, Mdp.WorkerHeader, command]);

    /// <summary>
    /// The replies packed this turn, then DISCONNECT: the last this connection sends. <paramref name="drained"/>: every
    /// request it took is answered, which a courier/6 broker is told, so that it gives what crossed the DISCONNECT to
    /// another worker rather than answer it "outcome unknown". <paramref name="peerReadsDrained"/>: what was learned of the
    /// broker after this connection settled (a late probe answer), when it knows better than the connection's own
    /// negotiation.
    /// </summary>
    public void SayDisconnect(bool drained, bool? peerReadsDrained = null)
    {
        Flush();
        Lose();
        // Behind any reply still held, and held itself if refused: the stop sends it at the ticks that follow, for a while.
        _held.Send(
            drained && !LostReply && (peerReadsDrained ?? Negotiation.PeerReadsDrained)
                ? [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame, MdpWorker.DrainedFrame]
                : [Mdp.Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame],
            replies: 0);
        SaidDisconnect = true;
    }

    /// <summary>Answers the request at <paramref name="address"/>: packed for a broker that takes batches, else at once.</summary>
    public void Reply(ReplyAddress address, int status, IReadOnlyList<ReadOnlyMemory<byte>> body, byte[]? headers = null)
    {
        if (address.PlainAddress is null)
        {
            if (headers is { Length: > 0 } && Negotiation.PeerDelivery)
            {
                // courier/5: a REPLY with headers goes alone, in the "CURW05" header (never packed).
                _replyHeader5 ??= new byte[CourierWorkerFrame5.ReplyFixedLength + HeaderBlock.MaxBlockLength];
                _frames.Clear();
                _frames.Add(_replyHeader5.AsMemory(0, CourierWorkerFrame5.WriteReply(_replyHeader5, address.Token, status, headers)));
                AddBody(body);
                Send();
                return;
            }

            if (Negotiation.PeerBatches && Batch.Fits(body.Count, body.Count == 1 ? body[0].Length : 0, Negotiation.PeerLargeBatches))
            {
                if (_batch.Count == 0)
                {
                    _batch.MaxLength = Batch.FrameBound(Negotiation.PeerLargeBatches);
                }

                StatusFrames.Of(status).CopyTo(_status, 0);
                if (!_batch.TryAdd(address.Token, _status, body[0].Span))
                {
                    Flush();
                    _batch.TryAdd(address.Token, _status, body[0].Span);
                }

                return;
            }

            // One REPLY in the one-frame Courier header, built in reused buffers: the transports copy frames when they send.
            CourierWorkerFrame.WriteReply(_replyHeader, address.Token, status);
            _frames.Clear();
            _frames.Add(_replyHeader);
            AddBody(body);
            Send();
            return;
        }

        _frames.Clear();
        _frames.Add(Mdp.Empty);
        _frames.Add(Mdp.WorkerHeader);
        _frames.Add(MdpWorker.ReplyFrame);
        _frames.Add(address.PlainAddress);
        _frames.Add(Mdp.Empty);
        if (Negotiation.Mode == PeerMode.Courier || status != CourierStatus.Ok)
        {
            // A Courier broker reads a status frame; a stock broker passes the body through, so an error is
            // [status, message], as Courier servers answer 7/MDP clients.
            _frames.Add(StatusFrames.Of(status));
        }

        AddBody(body);
        Send();
    }

    /// <summary>Sends the replies packed this turn: one alone as an ordinary REPLY, more as one batch.</summary>
    public void Flush()
    {
        RetryHeld(); // first: replies leave in the order they were made
        if (_batch.Count == 0)
        {
            return;
        }

        var count = _batch.Count;
        Refused(_held.Send(_batch.Message([], _loneHeader ??= LoneReplyHeader), count), count);
        _batch.Reset();
    }

    /// <summary>Replies the socket refused wait here to be sent again.</summary>
    public bool HoldsReplies => !_held.IsEmpty;

    /// <summary>It holds more refused replies than its bounds allow (the broker sends and does not read): end it.</summary>
    public bool HoldsTooMuch => _held.Overflowing;

    /// <summary>How long replies have been held with nothing written meanwhile (ticks at <paramref name="now"/>); zero when none is held.</summary>
    public long HeldStalledFor(long now) => _held.StalledFor(now);

    /// <summary>Sends what the socket refused before, if it now takes it (the tick's retry; a turn's end retries too).</summary>
    public void RetryHeld()
    {
        if (!_held.IsEmpty)
        {
            _held.Retry();
        }
    }

    private void Refused(HeldReplies.Outcome outcome, int replies)
    {
        if (outcome == HeldReplies.Outcome.Held)
        {
            _onRefusedReplies(replies, _held.Count, false);
        }
        else if (outcome == HeldReplies.Outcome.Dropped)
        {
            LostReply = true;
            _onRefusedReplies(replies, 0, true);
        }
    }

    /// <summary>The connection ends: replies still held are lost.</summary>
    private void Lose()
    {
        if (_held.Count > 0 && !_held.Retry())
        {
            LostReply = true;
            var lost = _held.Discard();
            _onRefusedReplies(lost, 0, true);
        }
    }

    private ReadOnlyMemory<byte> LoneReplyHeader(BatchRecord record)
    {
        CourierWorkerFrame.WriteReply(_replyHeader, record.Id, StatusFrames.Parse(record.Tag));
        return _replyHeader;
    }

    bool ISocketHandler.OnMessage(MessageFrames message) => _onMessage(this, message);

    void ISocketHandler.OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }

    public void Dispose()
    {
        Lose();
        Closed = true;
        _socket.Dispose();
    }

    private void AddBody(IReadOnlyList<ReadOnlyMemory<byte>> body)
    {
        for (var i = 0; i < body.Count; i++)
        {
            _frames.Add(body[i]);
        }
    }

    private void Send()
    {
        Refused(_held.Send(CollectionsMarshal.AsSpan(_frames), 1), 1);

        _frames.Clear(); // holds no reply past its sending
    }
}
