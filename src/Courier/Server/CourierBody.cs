using System.Text;

namespace Courier.Server;

/// <summary>Helpers to build reply bodies in handlers.</summary>
public static class CourierBody
{
    /// <summary>A one-frame body holding <paramref name="text"/> as UTF-8.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Text(string text) => [Encoding.UTF8.GetBytes(text)];

    /// <summary>A body of the given frames.</summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> Frames(params ReadOnlyMemory<byte>[] frames) => frames;
}
