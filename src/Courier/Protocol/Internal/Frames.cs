namespace Courier.Protocol.Internal;

internal static class Frames
{
    /// <summary>The frames from <paramref name="start"/> on, as the body of a request or reply (no bytes copied).</summary>
    public static ReadOnlyMemory<byte>[] From(IReadOnlyList<byte[]> frames, int start)
    {
        var body = new ReadOnlyMemory<byte>[Math.Max(0, frames.Count - start)];
        for (var i = 0; i < body.Length; i++)
        {
            body[i] = frames[start + i];
        }

        return body;
    }
}
