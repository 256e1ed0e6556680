namespace Viper.Studio.Library;

/// <summary>
/// An image in the session's library. <paramref name="Id"/> is the first 16 hex digits of the SHA-256 of its PNG (the
/// file name; no name from the client ever reaches the file system); <paramref name="Label"/> is for display only.
/// </summary>
public sealed record StoredImage(string Id, string Origin, string Label, int Width, int Height, string? Prompt = null, ulong? Seed = null)
{
    public string Url => $"/api/images/{Id}";
}

/// <summary>An image's PNG file and the library entry it will have, before it is stored.</summary>
public sealed record EncodedImage(byte[] Png, StoredImage Entry);
