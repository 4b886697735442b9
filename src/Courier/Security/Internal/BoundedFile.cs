namespace Courier.Security.Internal;

/// <summary>
/// Reads a security file an operator points at (a certificate, a policy) no further than it can be: refused unread
/// when it is empty (a named pipe or a device shows as empty too: reading one could block the reader, a broker's loop,
/// for good, or never end) or longer than <c>maxBytes</c>; read no further than that however it grows meanwhile.
/// </summary>
internal static class BoundedFile
{
    /// <summary>The text of <paramref name="path"/>; <paramref name="description"/> ends the refusal, "not a certificate (…)".</summary>
    public static string ReadText(string path, int maxBytes, string description)
    {
        var file = new FileInfo(path);
        var length = (file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? file).Length;
        if (length is 0 || length > maxBytes)
        {
            throw new InvalidDataException($"{path}: {length} bytes: not {description}");
        }

        // As long as the file said it was (UTF-8 has no more characters than bytes), and one more: a file that grew
        // meanwhile is refused, and read again at the next check (its stamp changed).
        using var reader = new StreamReader(path);
        var buffer = new char[length + 1];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return read < buffer.Length
            ? new string(buffer, 0, read)
            : throw new InvalidDataException($"{path}: grew while it was read");
    }
}
