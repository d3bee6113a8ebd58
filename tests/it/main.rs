mod entra;
