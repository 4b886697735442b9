using Courier.Security.Internal;
using Courier.Transport.Internal;

namespace Courier.Security;

/// <summary>
/// A CURVE key pair, or a public key alone, in czmq's certificate format: <c>NAME.key</c> holds the public key,
/// <c>NAME.key_secret</c> both keys, each a 40-character Z85 text in a <c>curve</c> section, beside a
/// <c>metadata</c> section. pyzmq's <c>zmq.auth</c> and czmq read and write the same files.
/// </summary>
public sealed class CurveCertificate
{
    internal CurveCertificate(string publicKey, string? secretKey, IReadOnlyDictionary<string, string> metadata)
    {
        PublicKey = publicKey;
        SecretKey = secretKey;
        Metadata = metadata;
    }

    /// <summary>The public key, Z85 (40 characters).</summary>
    public string PublicKey { get; }

    /// <summary>The secret key, Z85; null for a public certificate.</summary>
    public string? SecretKey { get; }

    /// <summary>The <c>metadata</c> section's properties.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>A new key pair from libzmq (which needs the native transport's <c>libzmq5</c>).</summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="metadata"/> holds what a certificate file cannot (a name with '=' or whitespace, a value on more than one line).
    /// </exception>
    public static CurveCertificate Generate(IReadOnlyDictionary<string, string>? metadata = null)
    {
        // A copy: the caller's dictionary may change after, and the file must be writable as it was checked.
        var copy = metadata is null ? new Dictionary<string, string>() : new Dictionary<string, string>(metadata, StringComparer.Ordinal);
        CertificateFile.CheckMetadata(copy, nameof(metadata));
        var (publicKey, secretKey) = CurveKeys.Generate();
        return new CurveCertificate(publicKey, secretKey, copy);
    }

    /// <summary>
    /// Reads a certificate file. A secret file's public key must be the one its secret key gives.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a CURVE certificate; the message names the file and line.</exception>
    public static CurveCertificate Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var certificate = CertificateFile.Parse(BoundedFile.ReadText(path, AllowList.MaxCertificateBytes, $"a certificate (at most {AllowList.MaxCertificateBytes} bytes)"), path);
        if (certificate.SecretKey is { } secret && CurveKeys.TryDerivePublic(secret) is { } derived && derived != certificate.PublicKey)
        {
            throw new InvalidDataException($"{path}: 'public-key' is not the public key of 'secret-key'");
        }

        return certificate;
    }

    /// <summary>
    /// Writes <c><paramref name="basePath"/>.key</c> (public) and, when this holds a secret key,
    /// <c><paramref name="basePath"/>.key_secret</c>, readable by its owner only (mode 0600 on Unix).
    /// </summary>
    public void Save(string basePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(basePath);
        File.WriteAllText(basePath + ".key", CertificateFile.Format(this, secret: false));
        if (SecretKey is null)
        {
            return;
        }

        var secretPath = basePath + ".key_secret";
        // A new file renamed over the old one, never the old one rewritten: a descriptor opened on the old file (while it
        // was readable by others, say) must not see the new secret. Created with its final mode, so the secret is never
        // readable by others, not even for a moment; in the same directory, so the rename is atomic.
        var temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(secretPath))!, $".{Path.GetFileName(secretPath)}.{Guid.NewGuid():N}.tmp");
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, fileOptions))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(CertificateFile.Format(this, secret: true));
            }

            if (!OperatingSystem.IsWindows())
            {
                // Exactly 0600 whatever the umask; only its owner can open it to this point.
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.Move(temporary, secretPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>The public half alone, for handing out.</summary>
    public CurveCertificate PublicOnly() => new(PublicKey, null, Metadata);
}
