using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>Builds the reply to a parsed request in the shape its client expects (see docs/protocol.md).</summary>
internal static class ReplyBuilder
{
    public static ReadOnlyMemory<byte>[] Success(IReadOnlyList<byte[]> request, in ParsedRequest parsed, IReadOnlyList<ReadOnlyMemory<byte>> body)
        => Build(request, parsed, CourierStatus.Ok, body, null);

    public static ReadOnlyMemory<byte>[] Error(IReadOnlyList<byte[]> request, in ParsedRequest parsed, int status, string message)
        => Build(request, parsed, status, [], message);

    private static ReadOnlyMemory<byte>[] Build(
        IReadOnlyList<byte[]> request, in ParsedRequest parsed, int status, IReadOnlyList<ReadOnlyMemory<byte>> body, string? error)
    {
        var frames = new List<ReadOnlyMemory<byte>>(parsed.EnvelopeLength + 5 + body.Count);
        for (var i = 0; i < parsed.EnvelopeLength; i++)
        {
            frames.Add(request[i]);
        }

        frames.Add(Mdp.Empty);
        var messageFrame = error is null ? default : (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(error);
        var headerIndex = parsed.EnvelopeLength + 1;
        switch (parsed.Kind)
        {
            case RequestKind.Courier:
                frames.Add(Mdp.CourierReplyHeader(headerIndex < request.Count ? request[headerIndex] : [], status));
                AddBody(frames, error is null ? body : [messageFrame]);
                break;
            case RequestKind.Mdp:
                frames.Add(Mdp.ClientHeader);
                frames.Add(ServiceFrame(request, headerIndex + 1));
                // A stock 7/MDP client has no status frame: an error body is [code, message], as 8/MMI answers.
                AddBody(frames, error is null ? body : [Mdp.StatusFrame(status), messageFrame]);
                break;
            default:
                AddBody(frames, error is null ? body : [Mdp.StatusFrame(status), messageFrame]);
                if (frames.Count == parsed.EnvelopeLength + 1)
                {
                    // REQ sockets need at least one frame after the delimiter.
                    frames.Add(Mdp.Empty);
                }

                break;
        }

        return [.. frames];
    }

    private static ReadOnlyMemory<byte> ServiceFrame(IReadOnlyList<byte[]> request, int index)
        => index < request.Count ? request[index] : Mdp.Empty;

    private static void AddBody(List<ReadOnlyMemory<byte>> frames, IReadOnlyList<ReadOnlyMemory<byte>> body)
    {
        for (var i = 0; i < body.Count; i++)
        {
            frames.Add(body[i]);
        }
    }
}
