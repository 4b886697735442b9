using System.Buffers.Binary;
using System.Text;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// Reads what a client's connections receive: each form of reply (Courier's one-frame header, courier/5's with headers, a
/// batch, plain 7/MDP) is matched to its request in the <see cref="RequestTable"/> and handed to the
/// <see cref="ClientEngine"/> as an answer or an error; anything else is logged. Loop thread only.
/// </summary>
internal sealed class ClientReplies(ClientEngine engine, RequestTable table, bool lendLargeReplies, ILogger logger, ViolationLog violations)
{
    private readonly List<byte[]> _received = [];

    public void OnMessage(ClientConnection connection, MessageFrames message)
    {
        switch (ClientInbound.Classify(message))
        {
            case ClientMessageKind.CourierReply:
                OnCourierReply(connection, message);
                break;
            case ClientMessageKind.Courier5Reply:
                OnCourier5Reply(connection, message);
                break;
            case ClientMessageKind.ReplyBatch:
                OnReplyBatch(connection, message);
                break;
            case ClientMessageKind.MdpReply when !WantsMdpReply(connection, message):
                // Checked before anything is copied: a peer's frames in 7/MDP form must not become arrays first.
                Unexpected(message.Count, connection.Endpoint, "a 7/MDP reply with no request outstanding for its service");
                break;
            case ClientMessageKind.MdpReply:
                message.CopyTo(_received);
                OnMdpReply(connection, _received);
                _received.Clear(); // what the reply kept is its own; the list holds nothing until the next one
                break;
            default:
                Unexpected(message.Count, connection.Endpoint, "neither a 7/MDP nor a Courier reply");
                break;
        }
    }

    /// <summary>
    /// Whether a message in 7/MDP reply form may be one this connection waits for: the answer to its probe while it probes
    /// (small, by its form), or the reply for the service of its one plain request outstanding.
    /// </summary>
    private static bool WantsMdpReply(ClientConnection connection, MessageFrames message)
        => (connection.Negotiation.Mode == PeerMode.Probing
                && message[2].SequenceEqual(ProtocolVersions.ProbeServiceBytes) && message.TotalLength <= ProtocolVersions.MaxProbeAnswerLength)
            || (connection.PlainOutstanding is { } request && message[2].SequenceEqual(request.ServiceFrame));

    /// <summary>A message dropped as unexpected: counted, and logged at a bounded rate (a peer's flood costs a few lines).</summary>
    private void Unexpected(int frameCount, string endpoint, string reason)
    {
        if (violations.Admit(ViolationKind.UnexpectedMessage))
        {
            ClientLog.Unexpected(logger, frameCount, endpoint, reason);
        }
    }

    /// <summary>
    /// The request <paramref name="id"/> names, if it went out on <paramref name="connection"/>: another peer's answer is
    /// not its reply (one endpoint of several must not answer for the others). Otherwise a late reply, or nobody's.
    /// </summary>
    private bool TryGetSentOn(ClientConnection connection, ulong id, out PendingRequest request)
    {
        if (!table.TryGet(id, out request))
        {
            return false; // a late reply to a request answered or given up: nothing unusual
        }

        if (request.WentOutOn(connection))
        {
            return true;
        }

        Unexpected(1, connection.Endpoint, $"a reply to request {id}, which did not go out on this connection");
        return false;
    }

    /// <summary>A Courier reply, read in place: only the body, which the caller gets to keep, is copied out.</summary>
    private void OnCourierReply(ClientConnection connection, MessageFrames message)
    {
        // "", "CURC02" + id + status, body…
        var header = message[1];
        var id = BinaryPrimitives.ReadUInt64BigEndian(header[CourierFrame.Header.Length..]);
        if (!TryGetSentOn(connection, id, out var request))
        {
            if (ClientEngine.IsProbeId(id))
            {
                if (connection.TakeProbeAnswer(id))
                {
                    // "", "CURC02"+id+status, version[, incarnation]
                    engine.ProbeAnswered(connection, id, ProtocolVersions.IncarnationOf(message.Count > 3 ? message[3] : default));
                }
                else
                {
                    Unexpected(message.Count, connection.Endpoint, "an answer to a liveness probe not sent on this connection, or answered already");
                }
            }

            return; // otherwise a late reply to a request already answered or abandoned
        }

        var status = StatusFrames.Parse(header[CourierFrame.PrefixLength..]);
        if (status == CourierStatus.Ok)
        {
            engine.Complete(connection, request, Reply(request, message, Protocol.CourierHeaders.Empty));
        }
        else
        {
            engine.Failed(connection, request, status, message.Count > 2 ? Encoding.UTF8.GetString(message[2]) : "(no message)");
        }
    }

    /// <summary>A courier/5 reply with headers: <c>"", "CURC05"+0x02+id+status+headers, body…</c>.</summary>
    private void OnCourier5Reply(ClientConnection connection, MessageFrames message)
    {
        var header = message[1];
        var id = BinaryPrimitives.ReadUInt64BigEndian(header[7..]);
        if (!TryGetSentOn(connection, id, out var request))
        {
            return; // a late reply to a request already answered or abandoned
        }

        var block = header[CourierFrame5.ReplyFixedLength..];
        if (HeaderBlock.Check(block) is { } problem)
        {
            engine.Fail(request, new CourierProtocolException($"Reply from {connection.Endpoint} to '{request.Service}' has invalid headers: {problem}."));
            return;
        }

        var status = StatusFrames.Parse(header.Slice(15, 3));
        if (status == CourierStatus.Ok)
        {
            engine.Complete(connection, request, Reply(request, message, CourierHeaders.Decode(block)));
        }
        else
        {
            engine.Failed(connection, request, status, message.Count > 2 ? Encoding.UTF8.GetString(message[2]) : "(no message)", AttemptHeader.Read(block));
        }
    }

    /// <summary>The body of a reply message (frames 2 on): copied out for its caller to keep, or its large frames lent.</summary>
    private CourierReply Reply(PendingRequest request, MessageFrames message, CourierHeaders headers)
    {
        if (lendLargeReplies)
        {
            var lent = LentFrames.BodyFrom(message, 2);
            return new CourierReply(request.Service, lent, headers);
        }

        var body = new ReadOnlyMemory<byte>[message.Count - 2];
        for (var f = 0; f < body.Length; f++)
        {
            body[f] = message.ToArray(f + 2);
        }

        return new CourierReply(request.Service, body, headers);
    }

    /// <summary>A batch of replies (docs/protocol.md §6): each body is copied out for its caller to keep.</summary>
    private void OnReplyBatch(ClientConnection connection, MessageFrames message)
    {
        var reader = new BatchReader(message[1]);
        while (reader.TryRead(out var record))
        {
            if (!TryGetSentOn(connection, record.Id, out var request))
            {
                continue; // a late reply to a request already answered or abandoned
            }

            var status = StatusFrames.Parse(record.Tag);
            if (status == CourierStatus.Ok)
            {
                engine.Complete(connection, request, new CourierReply(request.Service, [record.Body.ToArray()]));
            }
            else
            {
                engine.Failed(connection, request, status, Encoding.UTF8.GetString(record.Body));
            }
        }

        if (reader.Malformed)
        {
            Unexpected(message.Count, connection.Endpoint, "a batch of replies with a malformed record");
        }
    }

    /// <summary>A 7/MDP reply: the probe's answer, or the answer to the one plain request outstanding.</summary>
    private void OnMdpReply(ClientConnection connection, List<byte[]> frames)
    {
        if (connection.Negotiation.Mode == PeerMode.Probing && Negotiation.IsProbeAnswer(frames))
        {
            if (!connection.Negotiation.Answered(frames))
            {
                // A Courier peer from before courier/4 answers courier/2 to the courier/5 offer: asked again, offering
                // courier/3, so that batches are kept with it (left unasked, the connection stayed probing until its
                // probe timed out, and was replaced by another that did the same).
                connection.Negotiation.ProbeAgain(engine.Now + engine.TimeoutTicks);
                connection.ProbeWhileProbing();
                return;
            }

            var courier = connection.Negotiation.Mode == PeerMode.Courier;
            connection.PeerIncarnation = frames.Count > 5 ? ProtocolVersions.IncarnationOf(frames[5]) : null;
            connection.IncarnationKnown = true;
            ClientLog.Negotiated(logger, connection.Endpoint, courier ? "Courier" : "plain 7/MDP");
            connection.SendHeldCancels();
            engine.Negotiated();
            return;
        }

        if (connection.PlainOutstanding is not { } request || !frames[2].AsSpan().SequenceEqual(request.ServiceFrame))
        {
            Unexpected(frames.Count, connection.Endpoint, "a 7/MDP reply with no request outstanding for its service");
            return;
        }

        engine.Complete(connection, request, new CourierReply(request.Service, [.. frames.Skip(3).Select(f => (ReadOnlyMemory<byte>)f)]));
    }
}
